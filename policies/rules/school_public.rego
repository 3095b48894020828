# R-SCHOOL-PUBLIC: most school data is not secret (Q4-Q5): enrolment (that a
# pupil attends the school), class lists and the school catalogue may go to
# the police. A school may still mark a record secret (e.g. a pupil with
# protected personal data); then this rule does not apply.
package sekretess.rules.school_public

import data.sekretess.lib
import data.sekretess.vocab

basis := "skollagen (2010:800) 29 kap. 14 § (uppgiften omfattas inte av tystnadsplikt)" if {
	lib.is_independent_school(input.sender)
	not lib.independent_schools_under_osl
} else := "OSL 23 kap. 2 § tredje stycket (uppgiften omfattas inte av sekretess)"

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

scope contains "sender is not a school" if lib.sender_kind != "school"

scope contains "recipient is not the police" if lib.recipient_kind != "police"

conditions contains sprintf("category %s is not public school data (enrolment, class_list, school_catalogue)", [lib.category_shown]) if {
	not lib.category in vocab.public_school_categories
}

# Enrolment, class lists and the catalogue are secret only where there is a
# special reason to assume harm (OSL 23 kap. 2 § tredje stycket), e.g. a
# pupil with protected personal data; the school says so with claims.secret.
# The reason is given only for those categories: for any other the category
# reason above is the one that matters.
conditions contains "the sender marked this pupil's enrolment, class list or catalogue data secret (claims.secret: a special reason to assume harm, OSL 23 kap. 2 § tredje stycket, e.g. protected personal data), so it is not public: it needs a rule that breaks the secrecy, such as R-LUB-REQUEST after an interest assessment" if {
	lib.category in vocab.public_school_categories
	input.claims.secret == true
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
	input.sender.kind in {"police", "social_services"}
}

quick_exit if {
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.claims.category in {
		"contact_details", "attendance", "grades", "pupil_welfare", "risk_environment",
		"concern", "investigation_status", "case_details", "crime_suspicion",
		"preliminary_investigation", "confiscation", "health", "followup_results",
		"aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
