# R-SCHOOL-CRIME-REPORT: from 2025-07-01 the rector shall report to
# Polismyndigheten a crime that a pupil can be suspected of having committed
# in connection with the activities of the school forms the section lists,
# unless overriding reasons speak against it (skollagen (2010:800) 6 a kap.
# 10 §, SFS 2025:625). Q3 of the joint Q&A, written before, calls such a
# report discretionary; from 2025-07-01 the statute wins. The rector's
# judgement that no overriding reasons speak against the report is
# documented. Förskoleklassen is listed until 2026-06-30 and no longer from
# 2026-07-01 (SFS 2025:730). For a fritidshem not integrated with a school
# unit the duty lies with the staff the huvudman appoints (6 a kap. 11 §).
package sekretess.rules.school_crime_report

import data.sekretess.lib

basis := "skollagen (2010:800) 6 a kap. 10 §"

# The school forms 6 a kap. 10 § lists on the message's date.
forms := {
	"grundskola", "anpassad_grundskola", "specialskola", "sameskola", "fritidshem",
	"gymnasieskola", "anpassad_gymnasieskola", "komvux",
} if {
	lib.skollagen_2025_730_in_force
} else := {
	"forskoleklass", "grundskola", "anpassad_grundskola", "specialskola", "sameskola",
	"fritidshem", "gymnasieskola", "anpassad_gymnasieskola", "komvux",
}

# Every school form the policy knows, which a reason may name.
known_forms := {
	"forskola", "forskoleklass", "grundskola", "anpassad_grundskola", "specialskola",
	"sameskola", "fritidshem", "gymnasieskola", "anpassad_gymnasieskola", "komvux",
}

scope contains lib.not_in_force_reason("2025-07-01") if not lib.skollagen_6a_in_force

# Message kinds the rule covers.
kinds := {"report"}

scope contains "message kind is not report" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "disclosure", "concern_report", "feedback", "consultation",
		"meeting", "followup",
	}
}

scope contains "message kind is not report" if lib.kind_unknown

scope contains "sender is not a school" if lib.sender_kind != "school"

scope contains "recipient is not Polismyndigheten" if lib.recipient_kind != "police"

conditions contains sprintf("category must be crime_suspicion, not %s", [lib.category_shown]) if lib.category != "crime_suspicion"

form := lib.claim(["school_crime", "school_form"])

conditions contains sprintf("claims.school_crime.school_form %s is not a school form skollagen 6 a kap. 10 § lists on the message's date (förskoleklass only until 2026-06-30)", [lib.shown(form, known_forms)]) if {
	not form in forms
}

conditions contains "the suspect must be a pupil (claims.school_crime.suspect_is_pupil)" if {
	lib.claim(["school_crime", "suspect_is_pupil"]) != true
}

conditions contains "the crime must have been committed in connection with the school's activities (claims.school_crime.in_connection_with_activities)" if {
	lib.claim(["school_crime", "in_connection_with_activities"]) != true
}

conditions contains "the duty lies with the rector (6 a kap. 10 §) or, at a fritidshem outside a school unit, with the staff the huvudman appointed (6 a kap. 11 §): claims.sender_role must be rector, or huvudman_appointee for a fritidshem" if {
	not reporter
}

reporter if input.claims.sender_role == "rector"

reporter if {
	input.claims.sender_role == "huvudman_appointee"
	form == "fritidshem"
}

conditions contains r if {
	some r in lib.judgement_problems(
		lib.claim(["school_crime", "overriding_reasons_assessment"]),
		"the rector's documented judgement that no overriding reasons speak against the report (claims.school_crime.overriding_reasons_assessment)",
		"no_overriding_reasons",
	)
}

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"report"} # = kinds, see kinds_test.rego

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
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "investigation_status",
		"case_details", "preliminary_investigation", "confiscation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
