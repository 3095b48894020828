# R-LUB-OWN: from 2025-04-01 a rector gives, on the rector's own initiative,
# data the police need in crime fighting, e.g. that a pupil is believed to be
# in a criminal risk environment (Q2). An interest assessment is always made
# first and no overriding reason may weigh against.
package sekretess.rules.lub_own

import data.sekretess.lib
import data.sekretess.vocab

basis := "LUB (2025:170) 7 § andra stycket"

scope contains lib.not_in_force_reason("2025-04-01") if not lib.lub_in_force

# Message kinds the rule covers.
kinds := {"disclosure"}

scope contains "message kind is not disclosure" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "concern_report", "feedback", "report", "consultation",
		"meeting", "followup",
	}
}

scope contains "message kind is not disclosure" if lib.kind_unknown

scope contains "sender is not a school" if lib.sender_kind != "school"

scope contains "recipient is not the police" if lib.recipient_kind != "police"

conditions contains "the duty lies with the rector: claims.sender_role must be rector" if {
	lib.sender_role != "rector"
}

conditions contains sprintf("category %s is not data held in the rector's activity under LUB 7 § (elevhälsa's medical and psychological records stay under health secrecy, OSL 25 kap., and need consent: R-CONSENT)", [lib.category_shown]) if {
	not lib.category in vocab.school_categories
}

conditions contains "no statement of why the police need the data in crime fighting (claims.purpose)" if not lib.has_purpose

conditions contains r if some r in lib.interest_assessment_problems

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"disclosure"} # = kinds, see kinds_test.rego

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
	input.sender.kind in {"police", "social_services"}
}

quick_exit if {
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.claims.category in {
		"concern", "investigation_status", "case_details", "preliminary_investigation",
		"health", "followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
