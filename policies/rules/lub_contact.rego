# R-LUB-CONTACT: not yet encoded; denies everything until it is.
package sekretess.rules.lub_contact

import data.sekretess.lib

id := "R-LUB-CONTACT"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
