# R-LUB-REQUEST: from 2025-04-01 a rector gives data held in the activity the
# rector is responsible for when a law-enforcement authority asks and needs it
# (Q5). Public data is always given; secret data only after a documented
# interest assessment that does not weigh against. Elevhälsa's health records
# are not covered. Covers the police's request and the rector's answer.
package sekretess.rules.lub_request

import data.sekretess.lib
import data.sekretess.vocab

basis := "LUB (2025:170) 7 § första stycket"

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

scope contains "a request comes from the police to a school" if {
	input.message.kind == "request"
	not request_parties
}

request_parties if {
	input.sender.kind == "police"
	input.recipient.kind == "school"
}

scope contains "the answer goes from a school to the police" if {
	input.message.kind == "response"
	not response_parties
}

response_parties if {
	input.sender.kind == "school"
	input.recipient.kind == "police"
}

conditions contains sprintf("category %s is not data held in the rector's activity under LUB 7 § (elevhälsa's medical and psychological records stay under health secrecy, OSL 25 kap., and need consent: R-CONSENT)", [lib.category_shown]) if {
	not lib.category in vocab.school_categories
}

conditions contains "the request states no purpose in crime fighting (claims.purpose)" if {
	input.message.kind == "request"
	not lib.has_purpose
}

conditions contains "the duty lies with the rector: claims.sender_role must be rector" if {
	input.message.kind == "response"
	lib.sender_role != "rector"
}

conditions contains "must answer a request from the police to this sender (message.reply_to)" if {
	input.message.kind == "response"
	not lib.answers_request_from_recipient
}

conditions contains sprintf("the police asked for %s, not %s: the duty covers the data requested (Q5)", [lib.shown(input.reply_to.category, vocab.categories), lib.category_shown]) if {
	lib.answers_other_category
}

# Public data is always given; anything else needs the assessment.
public if {
	lib.category in vocab.public_school_categories
	lib.claim(["secret"]) != true
}

conditions contains r if {
	input.message.kind == "response"
	not public
	some r in lib.interest_assessment_problems
}

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
	input.sender.kind in {"police", "social_services"}
}

quick_exit if {
	input.message.kind == "request"
	input.recipient.kind in {"police", "social_services"}
}

quick_exit if {
	input.message.kind == "response"
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
