# R-1018A, OSL 10 kap. 18 a §: social services may give data about a person
# under 21 despite the secrecy of OSL 26 kap. 1 §.
#
# Until 2025-03-31 (Q11, Brå 2021:2): to Polismyndigheten only, when (1)
# special circumstances show a risk that the young person will engage in
# criminal activity, (2) the data can be assumed to help prevent it and (3)
# it is not inappropriate given planned or ongoing interventions.
#
# From 2025-04-01 (Lag 2025:179): to Polismyndigheten, Säkerhetspolisen or
# Tullverket, when (1) concrete circumstances show a risk that the young
# person will engage in criminal activity and (2) it is not inappropriate
# given planned or ongoing interventions or for other special reasons. That
# the data helps prevent it is no longer a condition.
#
# Either way, data about suspicion of an already committed crime is given
# only under the other provisions (R-CRIME-SUSPECT).
package sekretess.rules.osl_10_18a

import data.sekretess.lib

basis := "OSL 10 kap. 18 a §"

# The conditions in force at the message's time, by field of
# claims.conditions_1018a.
named := {
	"risk_of_crime": "(1) concrete circumstances show a risk of criminal activity",
	"not_inappropriate": "(2) not inappropriate given planned or ongoing interventions or for other special reasons",
} if {
	lib.osl_2025_179_in_force
} else := {
	"risk_of_crime": "(1) special circumstances show a risk of criminal activity",
	"helps_prevent": "(2) the data can be assumed to help prevent it",
	"not_inappropriate": "(3) not inappropriate given planned or ongoing interventions or for other special reasons",
}

# The recipients in force at the message's time.
recipients := lib.law_enforcement_kinds if {
	lib.osl_2025_179_in_force
} else := {"police"}

scope contains lib.not_in_force_reason("2013-01-01") if not lib.osl_10_18a_in_force

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

scope contains "sender is not social services" if lib.sender_kind != "social_services"

scope contains "recipient is not Polismyndigheten, Säkerhetspolisen or Tullverket" if {
	lib.osl_2025_179_in_force
	not lib.recipient_kind in lib.law_enforcement_kinds
}

scope contains "recipient is not Polismyndigheten (Säkerhetspolisen and Tullverket only from 2025-04-01, Lag 2025:179)" if {
	not lib.osl_2025_179_in_force
	lib.recipient_kind != "police"
}

conditions contains "subject age is missing (claims.subject.age or claims.subject.birth_date)" if not lib.claimed_age

conditions contains "subject is 21 or older" if lib.claimed_age >= 21

conditions contains "data about suspicion of an already committed crime is given only under OSL 10 kap. 20-24 §§ (R-CRIME-SUSPECT)" if {
	input.claims.category == "crime_suspicion"
}

conditions contains "health data is not covered" if input.claims.category == "health"

c := object.get(input, ["claims", "conditions_1018a"], null)

conditions contains sprintf("the documented assessment of the conditions of OSL 10 kap. 18 a § is missing (claims.conditions_1018a: by, at and %s)", [concat(", ", sort(object.keys(named)))]) if not is_object(c)

conditions contains "claims.conditions_1018a does not say who assessed the conditions (by)" if {
	is_object(c)
	not lib.non_empty_string(object.get(c, "by", null))
}

conditions contains "claims.conditions_1018a has no valid time (at) at or before the message" if {
	is_object(c)
	not assessed_in_time
}

assessed_in_time if time.parse_rfc3339_ns(c.at) <= lib.now_ns

conditions contains sprintf("condition %s is not shown as met with a text (claims.conditions_1018a.%s)", [text, k]) if {
	is_object(c)
	some k, text in named
	not met(object.get(c, k, null))
}

met(x) if {
	x.met == true
	lib.non_empty_string(x.text)
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
	input.sender.kind in {"police", "school"}
}

quick_exit if {
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.claims.category in {"crime_suspicion", "health"}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
