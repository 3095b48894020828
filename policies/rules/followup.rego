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
	not lib.kind in {"followup"} # = kinds, see kinds_test.rego
}

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
	lib.claim(["aggregate"]) == true
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

	# Quick exit for parties of a known kind the scope excludes
	# (guards_test.rego checks that the scope excludes them).
	lib.sender_kind != "police"
	lib.recipient_kind != "police"
	not [lib.sender_kind, lib.recipient_kind] in {["school", "school"], ["social_services", "social_services"]}

	# Quick exit for categories a condition excludes
	# (contract_test.rego checks that one does).
	lib.category in {"aggregate_statistics", null}

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
