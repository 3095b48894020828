# R-FU: data from a preliminary investigation (förundersökning). When a
# report of concern was made in connection with it, social services get the
# data they ask for that can matter for the assessment of the child's needs
# (path A); otherwise the police may give single data only after a
# case-by-case assessment that it does not harm the investigation (path B,
# Q15). Either way the data stays under FU secrecy at social services and
# must not be passed on (OSL 18 kap. 1 och 3 §§). Covers social services'
# request and the police's answer; only the answer (or disclosure), which
# carries the data, gets the obligation not to forward it.
package sekretess.rules.fu

import data.sekretess.lib

# Path A rests on the duty to give social services what matters to a child
# investigation: SoL (2001:453) 14 kap. 1 § tredje stycket until 2025-06-30,
# SoL (2025:400) 20 kap. 6 § from 2025-07-01.
basis_a := lib.sol(
	"SoL (2001:453) 14 kap. 1 § tredje stycket; OSL 18 kap. 1 och 3 §§",
	"SoL (2025:400) 20 kap. 6 §; OSL 18 kap. 1 och 3 §§",
)

basis_b := "OSL 18 kap. 1 § första stycket (uppgiften kan röjas utan skada för förundersökningen, prövning i det enskilda fallet)"

basis := basis_b if {
	lib.kind != "request"
	count(path_a) > 0
	count(path_b) == 0
} else := basis_a

# Message kinds the rule covers.
kinds := {"request", "response", "disclosure"}

scope contains "message kind is not request, response or disclosure" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"concern_report", "feedback", "report", "consultation", "meeting", "followup",
	}
}

scope contains "message kind is not request, response or disclosure" if lib.kind_unknown

scope contains "a request comes from social services to the police" if {
	input.message.kind == "request"
	not request_parties
}

request_parties if {
	input.sender.kind == "social_services"
	input.recipient.kind == "police"
}

scope contains "the data goes from the police to social services" if {
	input.message.kind in {"response", "disclosure"}
	not disclosure_parties
}

disclosure_parties if {
	input.sender.kind == "police"
	input.recipient.kind == "social_services"
}

conditions contains sprintf("category must be preliminary_investigation, not %s", [lib.category_shown]) if {
	lib.category != "preliminary_investigation"
}

conditions contains "the request does not state that a report of concern was made in connection with the investigation (claims.fu.concern_report_made)" if {
	input.message.kind == "request"
	lib.claim(["fu", "concern_report_made"]) != true
}

# Path A: concern report made, social services asked, data can matter.
path_a contains "a report of concern was not made in connection with the investigation (claims.fu.concern_report_made)" if {
	lib.claim(["fu", "concern_report_made"]) != true
}

path_a contains "social services did not ask: must answer their request (message.reply_to)" if {
	not lib.answers_request_from_recipient
}

path_a contains r if {
	some r in lib.judgement_problems(
		lib.claim(["fu", "relevance_assessment"]),
		"assessment that the data can matter for the child's needs assessment (claims.fu.relevance_assessment)",
		"relevant",
	)
}

# Path B: case-by-case assessment that single data can be given.
path_b contains r if {
	some r in lib.judgement_problems(
		lib.claim(["fu", "case_assessment"]),
		"case-by-case assessment that the data does not harm the investigation (claims.fu.case_assessment)",
		"no_harm",
	)
}

conditions contains sprintf("path A (SoL): %s", [r]) if {
	lib.kind != "request"
	count(path_b) > 0
	some r in path_a
}

conditions contains sprintf("path B (case by case): %s", [r]) if {
	lib.kind != "request"
	count(path_a) > 0
	some r in path_b
}

# The obligation travels with the FU data, i.e. with the police's response
# or disclosure; social services' request carries none.
obligations := {"fu-secrecy: do not forward"} if {
	input.message.kind in {"response", "disclosure"}
} else := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"request", "response", "disclosure"} # = kinds, see kinds_test.rego

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
	input.sender.kind in {"police", "school"}
}

quick_exit if {
	input.message.kind in {"response", "disclosure"}
	input.sender.kind in {"social_services", "school"}
}

quick_exit if {
	input.message.kind == "request"
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.message.kind in {"response", "disclosure"}
	input.recipient.kind in {"police", "school"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "investigation_status",
		"case_details", "crime_suspicion", "confiscation", "health", "followup_results",
		"aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
