# R-SCHOOL-PUBLIC: not yet encoded; denies everything until it is.
package sekretess.rules.school_public

import data.sekretess.lib

id := "R-SCHOOL-PUBLIC"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
