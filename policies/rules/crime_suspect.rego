# R-CRIME-SUSPECT: not yet encoded; denies everything until it is.
package sekretess.rules.crime_suspect

import data.sekretess.lib

id := "R-CRIME-SUSPECT"

result := lib.result(id, {"not yet encoded"}, set(), "", set())
