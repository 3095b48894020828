# R-POLICE-SCHOOL: not yet encoded; denies everything until it is.
package sekretess.rules.police_school

import data.sekretess.lib

id := "R-POLICE-SCHOOL"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
