# R-POLICE-SCHOOL: the police have no general duty to tell a school about a
# child in a criminal risk environment; they are restrictive and share only
# exceptionally, after a documented case-by-case assessment (Q1).
#
# What protects the data at the police are secrecy provisions (OSL 18 kap.
# 1-2 §§, 35 kap. 1 §); what permits the disclosure is OSL 10 kap. 2 §: it
# is necessary for the police's own work of preventing crime (polislagen
# (1984:387) 2 § 1), also to an independent school. The other permitting
# provisions are rules of their own and show in also_allowed_by when they
# hold too: the general clause, OSL 10 kap. 27 §, only to an authority, that
# is a municipal school (R-GENERAL, which also needs the exceptional
# assessment); OSL 10 kap. 15 a § from 2025-12-01 to an authority
# (R-1015A); consent, OSL 12 kap. (R-CONSENT).
package sekretess.rules.police_school

import data.sekretess.lib

basis := "OSL 10 kap. 2 §"

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

scope contains "sender is not Polismyndigheten" if lib.sender_kind != "police"

scope contains "recipient is not a school" if lib.recipient_kind != "school"

conditions contains sprintf("category must be risk_environment, not %s", [lib.category_shown]) if lib.category != "risk_environment"

conditions contains r if {
	some r in lib.judgement_problems(
		lib.claim(["exceptional_assessment"]),
		"documented case-by-case assessment that the disclosure is necessary for the police's work and exceptional (claims.exceptional_assessment)",
		"exceptional_disclosure",
	)
}

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
	input.sender.kind in {"school", "social_services"}
}

quick_exit if {
	input.recipient.kind in {"police", "social_services"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "concern", "investigation_status", "case_details",
		"crime_suspicion", "preliminary_investigation", "confiscation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
