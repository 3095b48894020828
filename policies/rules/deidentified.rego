# R-DEIDENTIFIED: consulting about a case that cannot identify the child is
# not disclosure of secret data (Q2-Q3). The message must be marked
# de-identified and carry no identifying field: the subject may be described
# by age only.
package sekretess.rules.deidentified

import data.sekretess.lib

id := "R-DEIDENTIFIED"

basis := "Ingen sekretess: uppgifterna kan inte knytas till en enskild (avidentifierade)"

scope contains "message kind is not consultation, followup or disclosure" if {
	not lib.kind in {"consultation", "followup", "disclosure"}
}

scope contains "not marked de-identified (claims.deidentified)" if lib.claim(["deidentified"]) != true

conditions contains sprintf("identifying field %s is present", [f]) if some f in lib.identifying_fields

conditions contains "forwards identified messages (claims.forwarded_from)" if {
	count(object.get(input, ["claims", "forwarded_from"], [])) > 0
}

# See lib.rego (results) for the shape; conditions and basis are only
# evaluated when they are needed.
result := {"id": id, "allow": false, "reasons": scope} if {
	count(scope) > 0
} else := {"id": id, "allow": false, "reasons": conditions} if {
	count(conditions) > 0
} else := {"id": id, "allow": true, "basis": basis, "obligations": {"no-identifying-data"}, "reasons": set()}
