# R-GENERAL: not yet encoded; denies everything until it is.
package sekretess.rules.general_clause

import data.sekretess.lib

id := "R-GENERAL"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
