# R-CHILD-INVESTIGATION: once social services have decided to investigate a
# child's need of protection or support, the authorities and professionals
# obliged to report concern (lib.mandatory_reporter: the police, schools,
# social services; Tullverket from 2026-01-15) must give social services
# every piece of data that can matter to the investigation: SoL (2001:453)
# 14 kap. 1 § tredje stycket until 2025-06-30, SoL (2025:400) 20 kap. 6 §
# from 2025-07-01. The duty breaks secrecy. Covers social services' request
# and the answer. Data from a preliminary investigation goes under R-FU
# (Q15), which keeps it under förundersökningssekretess.
package sekretess.rules.child_investigation

import data.sekretess.lib

basis := lib.sol(
	"SoL (2001:453) 14 kap. 1 § tredje stycket",
	"SoL (2025:400) 20 kap. 6 §",
)

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

scope contains "a request comes from social services to an authority or activity obliged to report concern (SoL (2025:400) 19 kap. 1 §)" if {
	input.message.kind == "request"
	not request_parties
}

request_parties if {
	input.sender.kind == "social_services"
	lib.mandatory_reporter(lib.recipient_kind, lib.now_ns)
}

scope contains "the answer goes to social services from an authority or activity obliged to report concern (SoL (2025:400) 19 kap. 1 §)" if {
	input.message.kind == "response"
	not response_parties
}

response_parties if {
	input.recipient.kind == "social_services"
	lib.mandatory_reporter(lib.sender_kind, lib.now_ns)
}

conditions contains "subject age is missing (claims.subject.age or claims.subject.birth_date)" if not lib.claimed_age

conditions contains "subject is 18 or older: the investigation concerns a child" if lib.claimed_age >= 18

conditions contains "social services' decision to investigate the child's need of protection or support has no valid time at or before the message (claims.child_investigation.decided_at)" if {
	input.message.kind == "request"
	not decided_in_time
}

decided_in_time if time.parse_rfc3339_ns(lib.claim(["child_investigation", "decided_at"])) <= lib.now_ns

conditions contains "must answer a request social services made to this sender for a child investigation (message.reply_to, allowed under R-CHILD-INVESTIGATION)" if {
	input.message.kind == "response"
	not answers_investigation_request
}

answers_investigation_request if {
	lib.answers_request_from_recipient
	input.reply_to.rule == "R-CHILD-INVESTIGATION"
}

conditions contains "data from a preliminary investigation goes to social services under R-FU, which keeps it under förundersökningssekretess (Q15)" if {
	input.claims.category == "preliminary_investigation"
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
	input.message.kind == "response"
	input.recipient.kind in {"police", "school"}
}

quick_exit if {
	input.claims.category == "preliminary_investigation"
}

reasons := scope if {
	count(scope) > 0
} else := conditions
