# R-DEIDENTIFIED: consulting about a case that cannot identify the child is
# not disclosure of secret data (Q2-Q3). The message must be marked
# de-identified and carry no identifying field: the subject may be described
# by age only.
package sekretess.rules.deidentified

import data.sekretess.lib

basis := "Ingen sekretess: uppgifterna kan inte knytas till en enskild (avidentifierade)"

# Message kinds the rule covers.
kinds := {"consultation", "followup", "disclosure"}

scope contains "message kind is not consultation, followup or disclosure" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "concern_report", "feedback", "report", "meeting",
	}
}

scope contains "message kind is not consultation, followup or disclosure" if lib.kind_unknown

scope contains "not marked de-identified (claims.deidentified)" if lib.claim(["deidentified"]) != true

conditions contains sprintf("identifying field %s is present", [f]) if some f in lib.identifying_fields

# The secrecy of a preliminary investigation protects the investigation, not
# only the person: removing identities does not lift it (Q15).
conditions contains "de-identifying does not lift förundersökningssekretess (category preliminary_investigation, OSL 18 kap. 1 §)" if {
	input.claims.category == "preliminary_investigation"
}

conditions contains "forwards identified messages (claims.forwarded_from)" if {
	count(object.get(input, ["claims", "forwarded_from"], [])) > 0
}

obligations := {"no-identifying-data"}

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"consultation", "followup", "disclosure"} # = kinds, see kinds_test.rego
	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
