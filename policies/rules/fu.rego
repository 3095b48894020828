# R-FU: not yet encoded; denies everything until it is.
package sekretess.rules.fu

import data.sekretess.lib

id := "R-FU"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
