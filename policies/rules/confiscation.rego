# R-CONFISCATION: the rector, or whom the rector has appointed, promptly
# reports to the police that the school took a knife, another weapon, spray
# paint or an object used as a tool for crime (Q3). It is a duty.
package sekretess.rules.confiscation

import data.sekretess.lib

basis := "skollagen (2010:800) 5 kap. 23 § andra stycket"

# Q3: "bland annat" knives, other weapons, spray paint and objects used as a
# tool for crime: the list is open, so another item carries its ground.
items := {"knife", "weapon", "spray_paint", "crime_tool", "other"}

# Message kinds the rule covers.
kinds := {"report"}

scope contains "message kind is not report" if {
	not lib.kind in {"report"} # = kinds, see kinds_test.rego
}

scope contains "sender is not a school" if lib.sender_kind != "school"

scope contains "recipient is not the police" if lib.recipient_kind != "police"

conditions contains sprintf("category must be confiscation, not %s", [lib.category_shown]) if lib.category != "confiscation"

conditions contains sprintf("claims.confiscation.item must be knife, weapon, spray_paint, crime_tool or other, not %s", [lib.shown(i, items)]) if {
	i := lib.claim(["confiscation", "item"])
	not i in items
}

conditions contains "an item other than a knife, weapon, spray paint or crime tool needs the ground for reporting it (claims.confiscation.ground)" if {
	lib.claim(["confiscation", "item"]) == "other"
	not lib.non_empty_string(lib.claim(["confiscation", "ground"]))
}

conditions contains "claims.confiscation.at is not a valid time at or before the message" if {
	not taken_before_message
}

taken_before_message if {
	at := time.parse_rfc3339_ns(lib.claim(["confiscation", "at"]))
	at <= lib.now_ns
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

	# Quick exit for parties of a known kind the scope excludes
	# (guards_test.rego checks that the scope excludes them).
	lib.sender_kind != "police"
	lib.sender_kind != "social_services"
	lib.recipient_kind != "school"
	lib.recipient_kind != "social_services"

	# Quick exit for categories a condition excludes
	# (contract_test.rego checks that one does).
	lib.category in {"confiscation", null}

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
