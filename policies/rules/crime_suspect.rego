# R-CRIME-SUSPECT: data about a suspected committed crime, or a crime in
# progress, goes to the police only within OSL 10 kap. 20-24 §§ (Q11). The
# sender declares the section and the offence class that section requires;
# the policy checks the class, what the class must show, who may send and
# who may receive under that section on the message's date. Each section is
# read in the wording in force on that date:
#
#   10:20 immediate_intervention: someone probably under 18 found by social
#         services' staff in conditions that obviously mean an imminent and
#         serious risk to their health or development, or committing a crime;
#         to Polismyndigheten, for an immediate intervention (Lag 2014:633).
#   10:21 crime_against_child: a suspected crime under BrB 3, 4 or 6 kap. or
#         the act (1982:316) against a person under 18, attempts, preparation
#         and conspiracy included; to Polismyndigheten. From 2025-12-01 (Lag
#         2025:965) the act is "om förbud mot könsstympning av kvinnor och
#         oskuldsingrepp på kvinnor": a virginity intervention is covered
#         from that day.
#   10:22 supply_to_young: supplying narcotics or doping substances, or
#         alcohol (not a minor case), to a person under 18; to
#         Polismyndigheten (Lag 2017:1076).
#   10:23 serious_crime: a committed crime with a minimum penalty of six
#         months' imprisonment, or an attempt, preparation or conspiracy
#         with a minimum of one year, from 2025-04-01 (Lag 2025:179); one
#         and two years before; to Polismyndigheten, Säkerhetspolisen or
#         another authority that intervenes against the crime (Tullverket).
#   10:24 imprisonment_in_scale: for secrecy that 10 kap. 19-23 §§ do not
#         name, such as a municipal school's (OSL 23 kap.), a crime with
#         imprisonment in its scale; to the same recipients as 10:23.
#
# 10:20-23 are encoded for social services' secrecy (OSL 26 kap. 1 §); 10:21
# and 10:23 also for the health secrecy (OSL 25 kap. 1 §) of elevhälsa's
# medical records at a school that is an authority under OSL (category
# health); 10:24 for such a school's other data (OSL 23 kap.).
package sekretess.rules.crime_suspect

import data.sekretess.lib

# section -> offence class that section requires.
classes := {
	"10:20": "immediate_intervention",
	"10:21": "crime_against_child",
	"10:22": "supply_to_young",
	"10:23": "serious_crime",
	"10:24": "imprisonment_in_scale",
}

sections := object.keys(classes)

# The conditions below test input.claims.offence.section itself, not
# `section`, so that OPA's rule index skips those of other sections.

section := lib.claim(["offence", "section"])

offence_class := lib.claim(["offence", "class"])

basis := sprintf("OSL 10 kap. %s §", [trim_prefix(section, "10:")]) if {
	section in sections
} else := "OSL 10 kap. 20-24 §§"

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

scope contains "sender is not social services or a school" if {
	not lib.sender_kind in {"social_services", "school"}
}

scope contains "recipient is not Polismyndigheten, Säkerhetspolisen or Tullverket" if {
	not lib.recipient_kind in lib.law_enforcement_kinds
}

conditions contains sprintf("category must be crime_suspicion, not %s", [lib.category_shown]) if {
	lib.category != "crime_suspicion"
	not school_health
}

# Elevhälsa's medical records at a school that is an OSL authority, under
# OSL 25 kap. 1 §, which 10 kap. 21 and 23 §§ name.
school_health if {
	input.claims.category == "health"
	input.claims.offence.section in {"10:21", "10:23"}
	school_authority
}

conditions contains sprintf("claims.offence.section must be one of 10:20, 10:21, 10:22, 10:23, 10:24, not %s", [lib.shown(section, sections)]) if {
	not section in sections
}

conditions contains sprintf("claims.offence.class must be %v for OSL %v, not %s", [classes[section], section, lib.shown(offence_class, {x | some x in classes})]) if {
	offence_class != classes[section]
}

# Who may send under each section.
conditions contains sprintf("OSL 10 kap. %s § is encoded for social services' secrecy (OSL 26 kap. 1 §): the sender is not social services", [trim_prefix(section, "10:")]) if {
	input.claims.offence.section in {"10:20", "10:22"}
	lib.sender_kind != "social_services"
}

conditions contains sprintf("OSL 10 kap. %s § is encoded for social services' secrecy (OSL 26 kap. 1 §) and for elevhälsa's health records (OSL 25 kap. 1 §, category health) at a school that is an authority under OSL: the sender is neither", [trim_prefix(section, "10:")]) if {
	input.claims.offence.section in {"10:21", "10:23"}
	lib.sender_kind != "social_services"
	not school_authority
}

conditions contains sprintf("OSL 10 kap. %s § reaches a school's data only under health secrecy (OSL 25 kap. 1 §, category health); other school data goes under 10 kap. 24 §", [trim_prefix(section, "10:")]) if {
	input.claims.offence.section in {"10:21", "10:23"}
	school_authority
	lib.category != "health"
}

conditions contains "OSL 10 kap. 24 § covers secrecy that 10 kap. 19-23 §§ do not name, such as a municipal school's (OSL 23 kap.): the sender is not a school that is an authority under OSL" if {
	input.claims.offence.section == "10:24"
	not school_authority
}

school_authority if {
	input.sender.kind == "school"
	lib.sender_osl_authority
}

conditions contains "health data is under OSL 25 kap., which 10 kap. 24 § does not cover" if {
	input.claims.offence.section == "10:24"
	input.claims.category == "health"
}

# Who may receive under each section.
conditions contains sprintf("OSL 10 kap. %s § lets the data go to Polismyndigheten only", [trim_prefix(section, "10:")]) if {
	input.claims.offence.section in {"10:20", "10:21", "10:22"}
	lib.recipient_kind != "police"
}

conditions contains sprintf("Tullverket gets data under OSL 10 kap. %s § only for a crime it has the task of intervening against (claims.offence.customs_task)", [trim_prefix(section, "10:")]) if {
	input.claims.offence.section in {"10:23", "10:24"}
	input.recipient.kind == "customs"
	lib.claim(["offence", "customs_task"]) != true
}

# What each class must show.
conditions contains "10:20 requires that social services' staff found someone probably under 18 in obvious imminent and serious risk to health or development, or committing a crime, and that the police are needed at once (claims.offence.found_by_staff, situation: serious_risk or committing_crime, subject under 18)" if {
	input.claims.offence.section == "10:20"
	not immediate
}

immediate if {
	input.claims.offence.found_by_staff == true
	lib.claim(["offence", "situation"]) in {"serious_risk", "committing_crime"}
	lib.claimed_age < 18
}

conditions contains "10:21 requires a crime under BrB 3, 4 or 6 kap. or the act (1982:316) against a person under 18 (claims.offence.victim_under_18, brb_chapter or fgm)" if {
	input.claims.offence.section == "10:21"
	not against_child
}

against_child if {
	input.claims.offence.victim_under_18 == true
	lib.claim(["offence", "brb_chapter"]) in {3, 4, 6}
}

against_child if {
	input.claims.offence.victim_under_18 == true
	input.claims.offence.fgm == true
}

against_child if {
	input.claims.offence.victim_under_18 == true
	input.claims.offence.virginity_intervention == true
	lib.osl_2025_965_in_force
}

conditions contains "a virginity intervention (oskuldsingrepp) is covered by OSL 10 kap. 21 § only from 2025-12-01 (Lag 2025:965)" if {
	input.claims.offence.section == "10:21"
	input.claims.offence.virginity_intervention == true
	not lib.osl_2025_965_in_force
}

# 10:22: giving or selling narcotics, doping substances or alcohol (not a
# minor case of unlawful sale or supply) to a young person.
supplies := {"narcotics", "doping", "alcohol"}

conditions contains "10:22 requires a suspected supply of narcotics, doping substances or alcohol (not a minor case) to a person under 18 (claims.offence.supply, victim_under_18)" if {
	input.claims.offence.section == "10:22"
	not supply_to_young
}

supply_to_young if {
	lib.claim(["offence", "supply"]) in supplies
	input.claims.offence.victim_under_18 == true
	lib.claim(["offence", "minor_case"]) != true
}

# 10:23: the minimum penalties in force on the message's date.
min_years := {"crime": 0.5, "attempt": 1} if {
	lib.osl_2025_179_in_force
} else := {"crime": 1, "attempt": 2}

conditions contains "10:23 requires a crime with a minimum penalty of six months' imprisonment, or an attempt, preparation or conspiracy where the minimum is one year (claims.offence.min_penalty_years, attempt)" if {
	input.claims.offence.section == "10:23"
	lib.osl_2025_179_in_force
	not serious
}

conditions contains "10:23 before 2025-04-01 requires a crime with a minimum penalty of one year's imprisonment, or an attempt where the minimum is two years (claims.offence.min_penalty_years, attempt)" if {
	input.claims.offence.section == "10:23"
	not lib.osl_2025_179_in_force
	not serious
}

serious if {
	lib.claim(["offence", "attempt"]) != true
	lib.claim(["offence", "min_penalty_years"]) >= min_years.crime
}

serious if {
	input.claims.offence.attempt == true
	lib.claim(["offence", "min_penalty_years"]) >= min_years.attempt
}

conditions contains "10:24 requires a crime with imprisonment in its scale (claims.offence.imprisonment_in_scale)" if {
	input.claims.offence.section == "10:24"
	lib.claim(["offence", "imprisonment_in_scale"]) != true
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
	input.sender.kind == "police"
}

quick_exit if {
	input.recipient.kind in {"school", "social_services"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "investigation_status",
		"case_details", "preliminary_investigation", "confiscation", "followup_results",
		"aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
