# R-LUB-CONTACT: from 2025-04-01 schools and social services must, on the
# police's request, give contact details (phone, e-mail, username, home or
# other address incl. HVB or SiS). Where the contact detail is secret an
# interest assessment is made first; only 'synnerliga skäl' stop it (Q4, Q12).
# Social services' data is always secret (OSL 26 kap. 1 §); a school's
# contact details are treated as secret unless the school states they are not.
# Covers the police's request and the answer.
package sekretess.rules.lub_contact

import data.sekretess.lib
import data.sekretess.vocab

basis := "LUB (2025:170) 4 §"

# Agencies that hold the contact details: schools and social services.
holders := {"school", "social_services"}

scope contains lib.not_in_force_reason("2025-04-01") if not lib.lub_in_force

# Message kinds the rule covers.
kinds := {"request", "response"}

scope contains "message kind is not request or response" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"disclosure", "concern_report", "feedback", "report", "consultation", "meeting",
		"followup",
	}
}

scope contains "message kind is not request or response" if lib.kind_unknown

scope contains "a request comes from the police to a school or social services" if {
	input.message.kind == "request"
	not request_parties
}

request_parties if {
	input.sender.kind == "police"
	lib.recipient_kind in holders
}

scope contains "the answer goes from a school or social services to the police" if {
	input.message.kind == "response"
	not response_parties
}

response_parties if {
	lib.sender_kind in holders
	input.recipient.kind == "police"
}

conditions contains sprintf("category must be contact_details, not %s", [lib.category_shown]) if lib.category != "contact_details"

conditions contains "the request states no purpose (claims.purpose)" if {
	input.message.kind == "request"
	not lib.has_purpose
}

conditions contains "must answer a request from the police to this sender (message.reply_to)" if {
	input.message.kind == "response"
	not lib.answers_request_from_recipient
}

conditions contains sprintf("the police asked for %s, not %s: the duty covers the data requested (Q4)", [lib.shown(input.reply_to.category, vocab.categories), lib.category_shown]) if {
	lib.answers_other_category
}

# LUB 4 §: contact details are refused only for synnerliga skäl.
conditions contains r if {
	input.message.kind == "response"
	secret
	some r in lib.judgement_problems(
		lib.claim(["interest_assessment"]),
		"assessment that no synnerliga skäl speak against giving the contact details (claims.interest_assessment, LUB 4 §)",
		"disclose",
	)
}

secret if input.sender.kind == "social_services"

secret if lib.claim(["secret"]) != false

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"request", "response"} # = kinds, see kinds_test.rego

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
	input.message.kind == "request"
	input.sender.kind in {"school", "social_services"}
}

quick_exit if {
	input.message.kind == "response"
	input.sender.kind == "police"
}

quick_exit if {
	input.message.kind == "request"
	input.recipient.kind == "police"
}

quick_exit if {
	input.message.kind == "response"
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "attendance", "grades", "pupil_welfare",
		"risk_environment", "concern", "investigation_status", "case_details",
		"crime_suspicion", "preliminary_investigation", "confiscation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
