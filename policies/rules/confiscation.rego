# R-CONFISCATION: not yet encoded; denies everything until it is.
package sekretess.rules.confiscation

import data.sekretess.lib

id := "R-CONFISCATION"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
