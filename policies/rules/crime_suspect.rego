# R-CRIME-SUSPECT: social services may give the police data about a suspected
# committed crime, or a crime in progress, only within OSL 10 kap. 20-23 §§
# (Q11). The sender declares the section and the offence class it requires;
# the policy checks that the class is the one that section requires.
package sekretess.rules.crime_suspect

import data.sekretess.lib

# section -> offence class that section requires. 10:20 is not encoded: its
# reach over social services secrecy is unverified, so it is refused.
classes := {
	"10:21": "crime_against_child",
	"10:22": "supply_to_young",
	"10:23": "serious_crime",
}

section := lib.claim(["offence", "section"])

offence_class := lib.claim(["offence", "class"])

basis := sprintf("OSL 10 kap. %s §", [trim_prefix(section, "10:")]) if {
	section in object.keys(classes)
} else := "OSL 10 kap. 20-23 §§"

# Message kinds the rule covers.
kinds := {"disclosure", "response"}

scope contains "message kind is not disclosure or response" if {
	not lib.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego
}

scope contains "sender is not social services" if lib.sender_kind != "social_services"

scope contains "recipient is not the police" if lib.recipient_kind != "police"

conditions contains sprintf("category must be crime_suspicion, not %s", [lib.category_shown]) if lib.category != "crime_suspicion"

conditions contains sprintf("claims.offence.section must be one of 10:21, 10:22, 10:23, not %s (10:20 is not encoded)", [lib.shown(section, object.keys(classes) | {"10:20"})]) if {
	not section in object.keys(classes)
}

conditions contains sprintf("claims.offence.class must be %v for OSL %v, not %s", [classes[section], section, lib.shown(offence_class, {x | some x in classes})]) if {
	offence_class != classes[section]
}

# What each class must show.
conditions contains "10:21 requires a crime under BrB 3, 4 or 6 kap. or the law against female genital mutilation against a person under 18 (claims.offence.victim_under_18, brb_chapter or fgm)" if {
	section == "10:21"
	not against_child
}

against_child if {
	lib.claim(["offence", "victim_under_18"]) == true
	lib.claim(["offence", "brb_chapter"]) in {3, 4, 6}
}

against_child if {
	lib.claim(["offence", "victim_under_18"]) == true
	lib.claim(["offence", "fgm"]) == true
}

# 10:22: giving or selling narcotics, doping substances or alcohol (not a
# minor case of unlawful sale or supply) to a young person.
supplies := {"narcotics", "doping", "alcohol"}

conditions contains "10:22 requires a suspected supply of narcotics, doping substances or alcohol (not a minor case) to a person under 18 (claims.offence.supply, victim_under_18)" if {
	section == "10:22"
	not supply_to_young
}

supply_to_young if {
	lib.claim(["offence", "supply"]) in supplies
	lib.claim(["offence", "victim_under_18"]) == true
	lib.claim(["offence", "minor_case"]) != true
}

conditions contains "10:23 requires a crime with a minimum penalty of one year's imprisonment, or an attempt where the minimum is two years (claims.offence.min_penalty_years, attempt)" if {
	section == "10:23"
	not serious
}

serious if {
	lib.claim(["offence", "attempt"]) != true
	lib.claim(["offence", "min_penalty_years"]) >= 1
}

serious if {
	lib.claim(["offence", "attempt"]) == true
	lib.claim(["offence", "min_penalty_years"]) >= 2
}

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"disclosure", "response"} # = kinds, see kinds_test.rego

	# Quick exit for parties of a known kind the scope excludes
	# (guards_test.rego checks that the scope excludes them).
	lib.sender_kind != "police"
	lib.sender_kind != "school"
	lib.recipient_kind != "school"
	lib.recipient_kind != "social_services"

	# Quick exit for categories a condition excludes
	# (contract_test.rego checks that one does).
	lib.category in {"crime_suspicion", null}

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
