# R-FEEDBACK: not yet encoded; denies everything until it is.
package sekretess.rules.feedback

import data.sekretess.lib

id := "R-FEEDBACK"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
