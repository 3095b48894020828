# R-CONFISCATION: the rector, or whom the rector has appointed, promptly
# reports to the police that the school took a knife, another weapon, spray
# paint or an object used as a tool for crime (Q3). It is a duty: for an
# item taken under skollagen 5 kap. 22 § by 5 kap. 23 § andra stycket; from
# 2025-07-01 (SFS 2025:625) for an item taken at a search of bags and other
# belongings (6 a kap. 5 och 7 §§, claims.confiscation.search) by 6 a kap.
# 8 § andra stycket. Searches under 6 a kap. exist only from that day.
package sekretess.rules.confiscation

import data.sekretess.lib

basis := "skollagen (2010:800) 6 a kap. 8 § andra stycket" if {
	after_search
	lib.skollagen_6a_in_force
} else := "skollagen (2010:800) 5 kap. 23 § andra stycket"

after_search if input.claims.confiscation.search == true

# Q3: "bland annat" knives, other weapons, spray paint and objects used as a
# tool for crime: the list is open, so another item carries its ground.
items := {"knife", "weapon", "spray_paint", "crime_tool", "other"}

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

scope contains "recipient is not the police" if lib.recipient_kind != "police"

conditions contains sprintf("category must be confiscation, not %s", [lib.category_shown]) if lib.category != "confiscation"

conditions contains sprintf("claims.confiscation.item must be knife, weapon, spray_paint, crime_tool or other, not %s", [lib.shown(i, items)]) if {
	i := lib.claim(["confiscation", "item"])
	not i in items
}

conditions contains "an item other than a knife, weapon, spray paint or crime tool needs the ground for reporting it (claims.confiscation.ground)" if {
	input.claims.confiscation.item == "other"
	not lib.non_empty_string(lib.claim(["confiscation", "ground"]))
}

conditions contains "claims.confiscation.at is not a valid time at or before the message" if {
	not taken_before_message
}

taken_before_message if {
	at := time.parse_rfc3339_ns(lib.claim(["confiscation", "at"]))
	at <= lib.now_ns
}

conditions contains "claims.confiscation.search: searches of pupils' belongings under skollagen 6 a kap. 5 § exist only from 2025-07-01 (SFS 2025:625)" if {
	after_search
	not lib.skollagen_6a_in_force
}

conditions contains "the report is made by the rector or whom the rector appointed: claims.sender_role must be rector or rector_delegate" if {
	lib.sender_role != "rector"
	lib.sender_role != "rector_delegate"
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
		"case_details", "crime_suspicion", "preliminary_investigation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
