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
	not lib.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego
}

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
	lib.claim(["secret"]) == true
}

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego

	# Quick exit for parties of a known kind the scope excludes
	# (guards_test.rego checks that the scope excludes them).
	lib.sender_kind != "police"
	lib.sender_kind != "social_services"
	lib.recipient_kind != "school"
	lib.recipient_kind != "social_services"

	# Quick exit for categories a condition excludes: those not in
	# vocab.public_school_categories (contract_test.rego checks that one does).
	lib.category in {"enrolment", "class_list", "school_catalogue", null}

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
