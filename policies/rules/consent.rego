# R-CONSENT: not yet encoded; denies everything until it is.
package sekretess.rules.consent

import data.sekretess.lib

id := "R-CONSENT"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
