# R-1015A, OSL 10 kap. 15 a § (SFS 2025:934), from 2025-12-01: secrecy
# under OSL 21-40 kap. does not prevent an authority from giving data to
# another authority when it is needed to
#
#   1. prevent, hinder or detect criminal activity,
#   2. investigate crime,
#   3. prevent or hinder that a benefit, support, tax or fee is decided, paid
#      out or credited wrongly or with too high or too low an amount,
#   4. detect or investigate what 3 describes, or
#   5. prevent, hinder, detect or investigate cheating and breaches of rules,
#      of conditions in decisions or of agreements;
#
# but not when overriding reasons (övervägande skäl) favour the interest
# the secrecy protects: the authority's weighing is documented
# (claims.secrecy_weighing). Excluded (third paragraph) are among others
# 25 kap. 1-5 och 8 §§, health secrecy, which covers elevhälsa's medical
# records, and 26 kap. 1 a § första stycket, 3, 4 och 6 §§; social services'
# general secrecy (26 kap. 1 §) is not excluded, unlike under the general
# clause. Förundersökningssekretess (18 kap.) is not under 21-40 kap. Not for
# follow-up of interventions or general welfare (the 2026 terms of reference). Independent schools
# are not authorities under OSL (unless the 2027 switch is on).
package sekretess.rules.osl_10_15a

import data.sekretess.lib

# The point of 10 kap. 15 a § första stycket each purpose code falls under.
points := {
	"prevent_crime": 1, "hinder_crime": 1, "detect_crime": 1,
	"investigate_crime": 2,
	"prevent_wrong_payment": 3,
	"detect_wrong_payment": 4,
	"cheating_or_rule_breach": 5,
}

purposes := object.keys(points)

basis := sprintf("OSL 10 kap. 15 a § första stycket %d", [points[code]]) if {
	code in purposes
} else := "OSL 10 kap. 15 a §"

# The other codes of the input schema, which a reason may quote.
other_codes := {"followup", "welfare", "needs_assessment", "other"}

scope contains lib.not_in_force_reason("2025-12-01") if not lib.osl_10_15a_in_force

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

scope contains "sender is not an authority under OSL" if not lib.sender_osl_authority

scope contains "recipient is not an authority under OSL: 10 kap. 15 a § lets data go to another authority only" if {
	not lib.recipient_osl_authority
}

# The rule reads claims.purpose_code (a code), not the free-text claims.purpose.
code := lib.claim(["purpose_code"])

conditions contains "claims.purpose_code is missing: it must name a purpose of OSL 10 kap. 15 a § första stycket 1-5 (prevent_crime, hinder_crime, detect_crime, investigate_crime, prevent_wrong_payment, detect_wrong_payment, cheating_or_rule_breach)" if {
	code == null
}

conditions contains sprintf("claims.purpose_code %s is not a purpose of OSL 10 kap. 15 a § första stycket 1-5 (follow-up and general welfare are not covered)", [lib.shown(code, other_codes)]) if {
	code != null
	not code in purposes
}

conditions contains "health data is under OSL 25 kap. 1-5 och 8 §§ (e.g. elevhälsa's medical records), which 10 kap. 15 a § tredje stycket excludes" if input.claims.category == "health"

conditions contains "data from a preliminary investigation is under OSL 18 kap., outside the secrecy of 21-40 kap. that 10 kap. 15 a § covers" if {
	input.claims.category == "preliminary_investigation"
}

# The second paragraph: no disclosure when overriding reasons favour secrecy.
conditions contains r if {
	some r in lib.judgement_problems(
		lib.claim(["secrecy_weighing"]),
		"documented weighing that no overriding reasons (övervägande skäl) favour the secrecy, OSL 10 kap. 15 a § andra stycket (claims.secrecy_weighing)",
		"secrecy_does_not_prevail",
	)
}

conditions contains "individual follow-up of interventions is not covered (it has no legal basis yet, 2026 terms of reference on follow-up): only with consent (R-CONSENT) or de-identified (R-FOLLOWUP)" if {
	input.claims.category == "followup_results"
}

conditions contains r if {
	some r in lib.judgement_problems(
		lib.claim(["necessity_assessment"]),
		"assessment that the data is needed for that purpose (claims.necessity_assessment)",
		"needed",
	)
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
	input.claims.category in {"health", "preliminary_investigation"}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
