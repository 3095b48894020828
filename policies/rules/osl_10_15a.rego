# R-1015A: from 2025-12-01 an authority may give another authority data
# needed to prevent, hinder or detect criminal activity or to investigate
# crime; unlike the general clause it also covers social services secrecy.
# Not for follow-up of interventions or general welfare (004). Independent
# schools are not authorities under OSL (unless the 2027 switch is on).
package sekretess.rules.osl_10_15a

import data.sekretess.lib

basis := "OSL 10 kap. 15 a §"

purposes := {"prevent_crime", "hinder_crime", "detect_crime", "investigate_crime"}

# The other codes of the input schema, which a reason may quote.
other_codes := {"followup", "welfare", "needs_assessment", "other"}

scope contains lib.not_in_force_reason("2025-12-01") if not lib.osl_10_15a_in_force

# Message kinds the rule covers.
kinds := {"disclosure", "response"}

scope contains "message kind is not disclosure or response" if {
	not lib.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego
}

scope contains sprintf("%s is not an authority under OSL", [role]) if {
	some role in ["sender", "recipient"]
	not lib.osl_authority(input[role])
}

# The rule reads claims.purpose_code (a code), not the free-text claims.purpose.
code := lib.claim(["purpose_code"])

conditions contains "claims.purpose_code is missing: it must say the purpose is to prevent, hinder or detect criminal activity or to investigate crime (prevent_crime, hinder_crime, detect_crime, investigate_crime)" if {
	code == null
}

conditions contains sprintf("claims.purpose_code %s is not to prevent, hinder or detect criminal activity or investigate crime (follow-up and general welfare are not covered)", [lib.shown(code, other_codes)]) if {
	code != null
	not code in purposes
}

conditions contains "health data is not covered" if lib.category == "health"

conditions contains "individual follow-up of interventions is not covered (004): only with consent (R-CONSENT) or de-identified (R-FOLLOWUP)" if {
	lib.category == "followup_results"
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

	# Quick exit for categories a condition excludes
	# (contract_test.rego checks that one does).
	lib.category != "health"

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
