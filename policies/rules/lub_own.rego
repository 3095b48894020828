# R-LUB-OWN: not yet encoded; denies everything until it is.
package sekretess.rules.lub_own

import data.sekretess.lib

id := "R-LUB-OWN"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
