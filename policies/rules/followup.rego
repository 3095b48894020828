# R-FOLLOWUP: school and social services have no legal basis today for
# individual-level follow-up of interventions (the 2026 terms of reference: the inquiry reports on
# 2027-03-29). Individual data needs consent (R-CONSENT) or de-identification
# (R-DEIDENTIFIED); aggregate statistics without identities are allowed.
package sekretess.rules.followup

import data.sekretess.lib

basis := "Ingen sekretess för aggregerad statistik utan identiteter (OSL 23 kap. och 26 kap. 1 § skyddar enskildas förhållanden)"

# Message kinds the rule covers.
kinds := {"followup"}

scope contains "message kind is not followup" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "disclosure", "concern_report", "feedback", "report",
		"consultation", "meeting",
	}
}

scope contains "message kind is not followup" if lib.kind_unknown

scope contains "follow-up is between a school and social services" if not parties

parties if {
	input.sender.kind == "school"
	input.recipient.kind == "social_services"
}

parties if {
	input.sender.kind == "social_services"
	input.recipient.kind == "school"
}

conditions contains "individual-level follow-up has no legal basis today (the inquiry reports 2027-03-29): it needs consent (R-CONSENT) or de-identified data (R-DEIDENTIFIED); only aggregate statistics are allowed" if {
	not aggregate
}

aggregate if {
	input.claims.aggregate == true
	input.claims.category == "aggregate_statistics"
	count(lib.identifying_fields) == 0
	object.get(input, ["claims", "subject"], null) == null
}

obligations := {"aggregate-only"}

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"followup"} # = kinds, see kinds_test.rego

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
	input.sender.kind == "police"
}

quick_exit if {
	input.recipient.kind == "police"
}

quick_exit if {
	input.sender.kind == "school"
	input.recipient.kind == "school"
}

quick_exit if {
	input.sender.kind == "social_services"
	input.recipient.kind == "social_services"
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "investigation_status",
		"case_details", "crime_suspicion", "preliminary_investigation", "confiscation",
		"health", "followup_results",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
