# R-LUB-REQUEST: not yet encoded; denies everything until it is.
package sekretess.rules.lub_request

import data.sekretess.lib

id := "R-LUB-REQUEST"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
