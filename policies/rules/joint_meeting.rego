# R-JOINT-MEETING: not yet encoded; denies everything until it is.
package sekretess.rules.joint_meeting

import data.sekretess.lib

id := "R-JOINT-MEETING"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
