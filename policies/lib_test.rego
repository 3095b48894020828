# The effective dates in lib.rego are nanosecond constants; each must be
# midnight Swedish time on its date.
package sekretess_test.lib

import data.sekretess.lib
import data.sekretess.vocab

test_effective_date_constants if {
	lib.osl_date_independent_schools == time.parse_rfc3339_ns("2027-01-01T00:00:00+01:00")
	lib.sol_2025_from == time.parse_rfc3339_ns("2025-07-01T00:00:00+02:00")
	lib.lub_from == time.parse_rfc3339_ns("2025-04-01T00:00:00+02:00")
	lib.osl_10_15a_from == time.parse_rfc3339_ns("2025-12-01T00:00:00+01:00")
	lib.osl_10_18a_from == time.parse_rfc3339_ns("2013-01-01T00:00:00+01:00")
	lib.osl_2025_179_from == time.parse_rfc3339_ns("2025-04-01T00:00:00+02:00")
	lib.osl_2025_965_from == time.parse_rfc3339_ns("2025-12-01T00:00:00+01:00")
	lib.sol_2025_1501_from == time.parse_rfc3339_ns("2026-01-15T00:00:00+01:00")
	lib.fb_6_20c_from == time.parse_rfc3339_ns("2026-01-15T00:00:00+01:00")
	lib.skollagen_6a_from == time.parse_rfc3339_ns("2025-07-01T00:00:00+02:00")
	lib.skollagen_2025_730_from == time.parse_rfc3339_ns("2026-07-01T00:00:00+02:00")
}

test_effective_dates_are_swedish_midnight if {
	every ns in [
		lib.osl_date_independent_schools, lib.sol_2025_from, lib.lub_from,
		lib.osl_10_15a_from, lib.osl_10_18a_from, lib.osl_2025_179_from,
		lib.osl_2025_965_from, lib.sol_2025_1501_from, lib.fb_6_20c_from,
		lib.skollagen_6a_from, lib.skollagen_2025_730_from,
	] {
		time.clock([ns, "Europe/Stockholm"]) == [0, 0, 0]
	}
}

# Each rule saying whether a law is in force compares with its date as a
# number: it must change exactly at the named constant.
in_force_dates := [
	["sol_2025_in_force", lib.sol_2025_from],
	["lub_in_force", lib.lub_from],
	["osl_10_15a_in_force", lib.osl_10_15a_from],
	["osl_2025_179_in_force", lib.osl_2025_179_from],
	["osl_2025_965_in_force", lib.osl_2025_965_from],
	["sol_2025_1501_in_force", lib.sol_2025_1501_from],
	["osl_40_7g_in_force", lib.sol_2025_1501_from],
	["fb_6_20c_in_force", lib.fb_6_20c_from],
	["skollagen_6a_in_force", lib.skollagen_6a_from],
	["skollagen_2025_730_in_force", lib.skollagen_2025_730_from],
	["osl_10_18a_in_force", lib.osl_10_18a_from],
]

at(ns) := {"message": {"created_at": time.format(ns)}}

test_in_force_changes_at_its_date if {
	every d in in_force_dates {
		data.sekretess.lib[d[0]] with input as at(d[1])
		not data.sekretess.lib[d[0]] with input as at(d[1] - 1)
	}
}

test_tullverket_named_as_reporter_from_2026_01_15 if {
	lib.mandatory_reporter("customs", lib.sol_2025_1501_from)
	not lib.mandatory_reporter("customs", lib.sol_2025_1501_from - 1)
}

test_every_rule_has_a_complete_package if {
	count(vocab.packages) == count(vocab.precedence)
	every id in vocab.precedence {
		pkg := vocab.packages[id]
		is_boolean(data.sekretess.rules[pkg].allow)
		is_set(data.sekretess.rules[pkg].kinds)
		is_set(data.sekretess.rules[pkg].reasons)
		is_string(data.sekretess.rules[pkg].basis)
		is_set(data.sekretess.rules[pkg].obligations)
	}
}

# A reason quotes a claim only when it is a value of the policy's own
# vocabulary: anything else is the sender's text.
test_shown_quotes_only_known_values if {
	lib.shown("grades", vocab.categories) == "grades"
	lib.shown(null, vocab.categories) == "(missing)"
	lib.shown("Kalle Karlsson 20120304-2385", vocab.categories) == "(a value the policy does not know, not shown)"
	lib.shown(201203042385, vocab.categories) == "(a value the policy does not know, not shown)"
	lib.shown({"name": "Kalle"}, vocab.categories) == "(a value the policy does not know, not shown)"
	lib.category_shown == "grades" with input as {"claims": {"category": "grades"}}
	lib.category_shown == "(a value the policy does not know, not shown)" with input as {"claims": {"category": "Kalle"}}
}

# Field names below claims.subject are the sender's text too: an unknown
# one is counted, not named.
test_identifying_fields_name_no_sender_text if {
	fields := lib.identifying_fields with input as {"claims": {"subject": {"age": 12, "pseudonym": "p", "Kalle Karlsson": "x", "Lisa": 1}}}
	fields == {"claims.subject.pseudonym", "claims.subject has a field other than pseudonym, age and birth_date"}
}

test_rule_packages_is_precedence_with_packages if {
	vocab.rule_packages == [[id, vocab.packages[id]] | some id in vocab.precedence]
}
