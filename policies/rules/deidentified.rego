# R-DEIDENTIFIED: not yet encoded; denies everything until it is.
package sekretess.rules.deidentified

import data.sekretess.lib

id := "R-DEIDENTIFIED"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
