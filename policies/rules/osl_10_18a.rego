# R-1018A: not yet encoded; denies everything until it is.
package sekretess.rules.osl_10_18a

import data.sekretess.lib

id := "R-1018A"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
