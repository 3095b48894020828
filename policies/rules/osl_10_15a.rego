# R-1015A: not yet encoded; denies everything until it is.
package sekretess.rules.osl_10_15a

import data.sekretess.lib

id := "R-1015A"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
