# R-GENERAL: the general clause. An authority may give secret data to another
# authority when it is manifest that the interest in disclosure outweighs the
# interest secrecy protects (Q13). Never for social services secrecy (OSL
# 10 kap. 27 § andra stycket, Q14) nor for health secrecy; not for
# independent schools, which are not authorities under OSL.
package sekretess.rules.general_clause

import data.sekretess.lib

basis := "OSL 10 kap. 27 §"

# Message kinds the rule covers.
kinds := {"disclosure", "response"}

scope contains "message kind is not disclosure or response" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "concern_report", "feedback", "report", "consultation", "meeting",
		"followup",
	}
}

scope contains "message kind is not disclosure or response" if lib.kind_unknown

scope contains "sender is not an authority under OSL" if not lib.sender_osl_authority

scope contains "recipient is not an authority under OSL" if not lib.recipient_osl_authority

conditions contains "never for social services secrecy (OSL 10 kap. 27 § andra stycket, Q14)" if {
	input.sender.kind == "social_services"
}

conditions contains "never for health secrecy (OSL 25 kap., excluded by 10 kap. 27 § andra stycket): health data needs consent (R-CONSENT)" if input.claims.category == "health"

# Social services' case data stays under social services secrecy wherever it
# has gone (OSL 26 kap.), so the clause never covers it.
conditions contains sprintf("never for social services secrecy: %v is social services' data (OSL 10 kap. 27 § andra stycket, Q14)", [lib.category]) if {
	lib.sender_kind != "social_services" # named by the condition above
	input.claims.category in {"case_details", "investigation_status"}
}

conditions contains "individual follow-up of interventions has no legal basis: only with consent (R-CONSENT) or de-identified (R-FOLLOWUP; no legal basis yet, 2026 terms of reference on follow-up)" if {
	input.claims.category == "followup_results"
}

# Q1: the police share with a school only exceptionally, after a documented
# case-by-case assessment, under this clause as under R-POLICE-SCHOOL.
conditions contains r if {
	input.sender.kind == "police"
	input.recipient.kind == "school"
	some r in lib.judgement_problems(
		lib.claim(["exceptional_assessment"]),
		"police to a school only exceptionally (Q1): documented case-by-case assessment marked exceptional (claims.exceptional_assessment)",
		"exceptional_disclosure",
	)
}

conditions contains r if {
	some r in lib.judgement_problems(
		lib.claim(["general_clause_weighing"]),
		"documented weighing (claims.general_clause_weighing)",
		"manifestly_outweighs",
	)
}

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego

	# Quick exits (see quick_exit).
	not quick_exit

	count(scope) == 0
	count(conditions) == 0
}

# Quick exits from `allow`: a party of a known kind that the scope excludes
# (guards_test.rego checks that it does) or a known category that a
# condition excludes (contract_test.rego checks that one does). A missing or
# unknown party or category never exits here: the scope and conditions name
# it. Each body tests the input itself, so OPA's rule index picks the bodies
# that apply without evaluating the others.
quick_exit if {
	input.claims.category == "health"
}

reasons := scope if {
	count(scope) > 0
} else := conditions
