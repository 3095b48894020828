# R-FOLLOWUP: not yet encoded; denies everything until it is.
package sekretess.rules.followup

import data.sekretess.lib

id := "R-FOLLOWUP"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
