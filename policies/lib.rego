# Shared helpers: decision time, dates in force, ages, parties and the
# documented human judgements every rule checks the same way.
package sekretess.lib

import data.sekretess.vocab

# The decision time is the message's own timestamp, never the clock.
now_ns := time.parse_rfc3339_ns(input.message.created_at)

# Effective dates are midnight Swedish time (the offset in force that day).
# They are written as nanoseconds since the epoch so that no decision parses
# them again (lib_test.rego checks each against its RFC3339 text), and
# whether each is in force is a rule computed once per decision. That rule
# compares with the number itself, which costs no rule lookup
# (lib_test.rego checks that it changes at the named constant).

# The decision date on the Swedish calendar, [year, month, day]. (The time
# zone is written here, not as a rule of its own, which a decision would
# have to look up.)
today := time.date([now_ns, "Europe/Stockholm"])

# --- parties ------------------------------------------------------------

party_kinds := {"police", "security_police", "customs", "school", "social_services"}

# Polismyndigheten, Säkerhetspolisen and Tullverket: the authorities OSL
# 10 kap. 18 a § names from 2025-04-01. Each is its own party kind; a rule
# that names only Polismyndigheten checks for "police".
law_enforcement_kinds := {"police", "security_police", "customs"}

# The names of the party kinds in Swedish, for reasons.
kind_names := {
	"police": "Polismyndigheten",
	"security_police": "Säkerhetspolisen",
	"customs": "Tullverket",
	"school": "a school",
	"social_services": "social services",
}

school_operators := {"municipal", "independent"}

is_independent_school(p) if {
	p.kind == "school"
	p.operator == "independent"
}

is_municipal_school(p) if {
	p.kind == "school"
	p.operator == "municipal"
}

# The parties' kinds, null when missing; computed once per decision.
sender_kind := object.get(input, ["sender", "kind"], null)

recipient_kind := object.get(input, ["recipient", "kind"], null)

# The proposal that OSL applies to independent schools (lagrådsremiss
# 2026-01-20) is behind a data switch and, when switched on, only from
# 2027-01-01.
osl_date_independent_schools := 1798758000000000000 # 2027-01-01T00:00:00+01:00

independent_schools_under_osl if {
	data.sekretess.config.independent_schools_under_osl == true
	now_ns >= osl_date_independent_schools
}

# An authority in the sense of OSL: the directory says it is one and it is
# not an independent school, unless the switch makes those count as authorities.
osl_authority(p) if {
	p.authority == true
	not is_independent_school(p)
}

osl_authority(p) if {
	is_independent_school(p)
	independent_schools_under_osl
}

# Whether the sender and the recipient are authorities under OSL, computed
# once per decision for the rules that ask.
sender_osl_authority if osl_authority(input.sender)

recipient_osl_authority if osl_authority(input.recipient)

# --- subject age --------------------------------------------------------

# Age in whole years on the decision date (Swedish calendar date) of a
# YYYY-MM-DD birth date.
age_from_birth_date(bd) := age if {
	b := time.parse_ns("2006-01-02", bd)
	[by, bm, bday] := time.date(b)
	[y, m, d] := today
	before_birthday := to_number([m, d] < [bm, bday])
	age := (y - by) - before_birthday
}

# The subject's age as the sender states it (a claim): birth_date wins over age.
claimed_age := a if {
	a := age_from_birth_date(input.claims.subject.birth_date)
} else := a if {
	a := input.claims.subject.age
	is_number(a)
	a >= 0
}

# --- documented judgements ------------------------------------------------

non_empty_string(s) if {
	is_string(s)
	trim_space(s) != ""
}

# A judgement made by an official: who, when (RFC3339, not after the
# message) and the outcome.
documented(j) if {
	is_object(j)
	non_empty_string(j.by)
	at := time.parse_rfc3339_ns(j.at)
	at <= now_ns
}

# Reasons a judgement is not usable, named after what it is. Pass the
# judgement with object.get(..., null) so that a missing one is reported.
# A usable judgement (the common case) is recognised at once; otherwise each
# problem is named. (One definition with else, so that a missing judgement
# is not looked at again.)
judgement_problems(j, name, want) := {sprintf("%s is missing", [name])} if {
	not is_object(j)
} else := set() if {
	non_empty_string(j.by)
	time.parse_rfc3339_ns(j.at) <= now_ns
	j.outcome == want
} else := (_by_problem(j, name) | _at_problem(j, name)) | _outcome_problem(j, name, want)

_by_problem(j, name) := {sprintf("%s does not say who made it (by)", [name])} if {
	not non_empty_string(object.get(j, "by", null))
} else := set()

_at_problem(j, name) := set() if {
	at := time.parse_rfc3339_ns(object.get(j, "at", ""))
	at <= now_ns
} else := {sprintf("%s has no valid time (at) at or before the message", [name])}

_outcome_problem(j, name, want) := set() if {
	object.get(j, "outcome", null) == want
} else := {sprintf("%s outcome is not %q", [name, want])}

# --- rules ------------------------------------------------------------------

# Every rule package (vocab.packages maps rule ids to them) defines
#
#   scope        reasons the message is outside the rule (kind, parties, date)
#   conditions   reasons a condition of the rule fails
#   allow        true when nothing is out of scope and every condition holds
#   reasons      the scope reasons when out of scope (the conditions are then
#                moot), otherwise the failed conditions
#   basis        the provision, in Swedish
#   obligations  obligations that travel with the data when the rule allows
#
# Reasons carry no rule id; the decision prefixes them. The decision reads
# only what it needs: the `allow` of the rules whose `kinds` include the
# message kind (vocab.rules_by_kind), the basis and obligations of the rule it
# reports, and the reasons only when it denies. `allow` checks the message
# kind first, against a literal copy of `kinds` that OPA's rule index can use,
# then its quick exits (`quick_exit`), then the scope, so conditions are
# evaluated only for rules in scope. The scope's kind reason lists the known
# kinds outside `kinds` as a literal and reads kind_unknown for the rest, so
# that no decision evaluates `kinds` (kinds_test.rego checks that all of them
# agree). A body that needs a party kind, the category or a claim to equal a
# value tests the input itself (`input.sender.kind == "police"`), not lib's
# copy: OPA's rule index then skips the bodies for other values unevaluated.

# --- acts that change over time --------------------------------------------

# SoL (2001:453) until 2025-06-30, SoL (2025:400) from 2025-07-01.
sol_2025_from := 1751320800000000000 # 2025-07-01T00:00:00+02:00

sol_2025_in_force if now_ns >= 1751320800000000000 # = sol_2025_from

sol(old, new) := new if {
	sol_2025_in_force
} else := old

# LUB, lag (2025:170), from 2025-04-01.
lub_from := 1743458400000000000 # 2025-04-01T00:00:00+02:00

lub_in_force if now_ns >= 1743458400000000000 # = lub_from

# OSL 10 kap. 15 a §, from 2025-12-01.
osl_10_15a_from := 1764543600000000000 # 2025-12-01T00:00:00+01:00

osl_10_15a_in_force if now_ns >= 1764543600000000000 # = osl_10_15a_from

# OSL 10 kap. 18 a § in the wording of Lag (2025:179), from 2025-04-01: two
# conditions instead of three, and Säkerhetspolisen and Tullverket beside
# Polismyndigheten. The same law set the new thresholds of 10 kap. 23 §.
osl_2025_179_from := 1743458400000000000 # 2025-04-01T00:00:00+02:00

osl_2025_179_in_force if now_ns >= 1743458400000000000 # = osl_2025_179_from

# OSL 10 kap. 21 § in the wording of Lag (2025:965), from 2025-12-01: the
# act it names is "lagen (1982:316) om förbud mot könsstympning av kvinnor
# och oskuldsingrepp på kvinnor".
osl_2025_965_from := 1764543600000000000 # 2025-12-01T00:00:00+01:00

osl_2025_965_in_force if now_ns >= 1764543600000000000 # = osl_2025_965_from

# SoL (2025:400) 19 kap. 1 och 6 §§ in the wording of SFS 2025:1501, OSL
# 40 kap. 7 g § (SFS 2025:1495) and föräldrabalken 6 kap. 20 c § (SFS
# 2025:1490), all from 2026-01-15.
sol_2025_1501_from := 1768431600000000000 # 2026-01-15T00:00:00+01:00

sol_2025_1501_in_force if now_ns >= 1768431600000000000 # = sol_2025_1501_from

osl_40_7g_in_force if now_ns >= 1768431600000000000 # = sol_2025_1501_from

fb_6_20c_from := 1768431600000000000 # 2026-01-15T00:00:00+01:00

fb_6_20c_in_force if now_ns >= 1768431600000000000 # = fb_6_20c_from

# Skollagen (2010:800) 6 a kap. (SFS 2025:625), from 2025-07-01: searches,
# confiscation and the rector's duty to report a pupil's crime.
skollagen_6a_from := 1751320800000000000 # 2025-07-01T00:00:00+02:00

skollagen_6a_in_force if now_ns >= 1751320800000000000 # = skollagen_6a_from

# Skollagen 6 a kap. 5 och 10 §§ in the wording of SFS 2025:730, from
# 2026-07-01: förskoleklassen is no longer listed.
skollagen_2025_730_from := 1782856800000000000 # 2026-07-01T00:00:00+02:00

skollagen_2025_730_in_force if now_ns >= 1782856800000000000 # = skollagen_2025_730_from

# OSL 10 kap. 18 a §, from 2013-01-01 (prop. 2011/12:171; Brå 2021: "infördes 2013").
osl_10_18a_from := 1356994800000000000 # 2013-01-01T00:00:00+01:00

osl_10_18a_in_force if now_ns >= 1356994800000000000 # = osl_10_18a_from

# Whether SoL names a party of kind k among those obliged to report concern
# for a child (SoL (2025:400) 19 kap. 1 § första stycket, before 2025-07-01
# SoL (2001:453) 14 kap. 1 § första stycket) at time ns. Polismyndigheten,
# Säkerhetspolisen and social services are named; schools as authorities
# whose activity concerns children, independent schools as professional
# private activities that do; from 2026-01-15 (SFS 2025:1501) also every
# activity under skollagen and Tullverket by name. Before that Tullverket is
# not named and reports as anyone may (19 kap. 4 §, before 2025-07-01
# 14 kap. 1 c §).
mandatory_reporter(k, _) if k in {"police", "security_police", "school", "social_services"}

mandatory_reporter("customs", ns) if ns >= 1768431600000000000 # = sol_2025_1501_from

# Secrecy at the reporter from 2026-01-15: data about a report of concern
# and social services' feedback on it (OSL 40 kap. 7 g §, SFS 2025:1495).
secret_at_reporter_obligation := "secret at the reporter: OSL 40 kap. 7 g §"

not_in_force_reason(date) := sprintf("not in force at the message's time %v: in force from %s", [object.get(input, ["message", "created_at"], null), date])

# --- quoting claims in reasons -------------------------------------------

# Reasons, the basis and the obligations are kept in clear in the audit log
# and the receipt, outside the sealed part, where they can never be
# shredded. They name a field and the rule, never what the sender wrote:
# a claim is quoted only when it is a value of the policy's own vocabulary
# (known), which cannot be personal data.
shown(x, known) := sprintf("%v", [x]) if {
	x in known
} else := "(missing)" if {
	x == null
} else := "(a value the policy does not know, not shown)"

# Helpers to read claims without failing on missing fields.
claims := c if {
	c := input.claims
	is_object(c)
} else := {}

claim(path) := object.get(claims, path, null)

category := object.get(input, ["claims", "category"], null)

# The category as a reason may quote it.
category_shown := shown(category, vocab.categories)

kind := object.get(input, ["message", "kind"], null)

# The message kind is missing or not one the policy knows. Each rule's scope
# names the kinds it does not cover as a literal, which OPA's rule index
# settles, and this once-computed rule for every other kind. (The keys of
# vocab.rules_by_kind are vocab.kinds, kinds_test.rego checks it, and every
# decision has read it already.)
kind_unknown if not vocab.rules_by_kind[kind]

# The message answers a request the recipient sent to the sender and the
# broker allowed (input.reply_to is the broker's own record).
answers_request_from_recipient if {
	r := input.reply_to
	r.kind == "request"
	r.sender == input.recipient.id
	r.recipient == input.sender.id
	r.allow == true
}

# Q5: an answer gives the data asked for. The broker's record of the request
# names its category.
answers_other_category if {
	kind == "response"
	asked := object.get(input, ["reply_to", "category"], null)
	asked != null
	asked != category
}

sender_role := object.get(input, ["claims", "sender_role"], null)

has_purpose if non_empty_string(object.get(input, ["claims", "purpose"], null))

interest_assessment_problems := judgement_problems(
	object.get(input, ["claims", "interest_assessment"], null),
	"interest assessment (claims.interest_assessment)",
	"disclose",
)

# Fields of claims.subject that do not identify the child.
non_identifying_subject_fields := {"age"}

# Fields of claims.subject the input schema names, which a reason may name.
subject_fields := {"pseudonym", "age", "birth_date"}

identifying_fields contains sprintf("claims.subject.%s", [k]) if {
	some k, _ in object.get(input, ["claims", "subject"], {})
	k in subject_fields
	not k in non_identifying_subject_fields
}

# The name of a field is the sender's text too: another field is counted,
# not named.
identifying_fields contains "claims.subject has a field other than pseudonym, age and birth_date" if {
	some k, _ in object.get(input, ["claims", "subject"], {})
	not k in subject_fields
}

identifying_fields contains "claims.identifiers" if object.get(input, ["claims", "identifiers"], null) != null
