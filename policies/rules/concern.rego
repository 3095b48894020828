# R-CONCERN: orosanmälan. Police, schools and social services must report to
# social services when they learn of or suspect that a child is harmed
# (SoL (2025:400) 19 kap. 1 § from 2025-07-01, SoL (2001:453) 14 kap. 1 §
# första stycket before). The duty breaks secrecy. A reporter SoL does not
# name reports as anyone may (19 kap. 4 §, before 14 kap. 1 c §). From
# 2026-01-15 the report is secret at the reporter (OSL 40 kap. 7 g §). Every agency reports on its own even if another
# already has (Q7) and a reporter reports again when the concern remains or
# new facts arise (Q8): earlier reports never block a new one.
package sekretess.rules.concern

import data.sekretess.lib

basis := "SoL (2025:400) 19 kap. 1 §" if {
	lib.sol_2025_in_force
	lib.mandatory_reporter(lib.sender_kind, lib.now_ns)
} else := "SoL (2025:400) 19 kap. 4 §" if {
	lib.sol_2025_in_force
} else := "SoL (2001:453) 14 kap. 1 § första stycket" if {
	lib.mandatory_reporter(lib.sender_kind, lib.now_ns)
} else := "SoL (2001:453) 14 kap. 1 c §"

# Message kinds the rule covers.
kinds := {"concern_report"}

scope contains "message kind is not concern_report" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "disclosure", "feedback", "report", "consultation", "meeting",
		"followup",
	}
}

scope contains "message kind is not concern_report" if lib.kind_unknown

scope contains "a report of concern goes to social services" if lib.recipient_kind != "social_services"

conditions contains sprintf("category must be concern, not %s", [lib.category_shown]) if lib.category != "concern"

conditions contains "subject age is missing (claims.subject.age or claims.subject.birth_date)" if not lib.claimed_age

conditions contains "subject is 18 or older: the duty to report concerns children under 18" if lib.claimed_age >= 18

obligations := {lib.secret_at_reporter_obligation} if {
	lib.osl_40_7g_in_force
} else := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"concern_report"} # = kinds, see kinds_test.rego

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
	input.recipient.kind in {"police", "school"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "investigation_status", "case_details",
		"crime_suspicion", "preliminary_investigation", "confiscation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
