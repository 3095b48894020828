# Validity of the consent record the broker resolved from its registry
# (input.consent; never from claims). Used by R-CONSENT and R-JOINT-MEETING.
# OSL 12 kap. 2-3 §§; Q16-Q18.
package sekretess.consent

import data.sekretess.lib

c := object.get(input, "consent", null)

present if is_object(c)

# Agencies the consent lets the data go to.
recipients contains r if {
	r := c.recipient
	is_string(r)
}

recipients contains r if some r in object.get(c, "recipients", [])

categories contains x if some x in object.get(c, "categories", [])

general_markers := {"*", "all", "any"}

# Subject age on the decision date: the registry's birth date first, then
# the registry's age, then the sender's claim.
subject_age := a if {
	a := lib.age_from_birth_date(c.subject.birth_date)
} else := a if {
	a := c.subject.age
	is_number(a)
	a >= 0
} else := lib.claimed_age

# Consents actually given by the decision time (each time parsed once).
given_by_now := [g |
	some g in object.get(c, "given_by", [])
	time.parse_rfc3339_ns(g.at) <= lib.now_ns
]

# The consents given by role, as an array: each entry of given_by is one
# consent, so two guardians' entries count twice even when they are equal
# (a set would merge them).
given(role) := [g | some g in given_by_now; g.role == role]

problems contains "no consent record resolved by the broker for this message (input.consent)" if not present

problems contains r if {
	present
	some r in record_problems
}

# A consent that is valid in every respect (the common case) is recognised
# by one quick check; otherwise every problem is named by the rules for
# record_problem_details below.
record_problems := set() if {
	record_valid
} else := record_problem_details

# Implies that no record_problem_details rule applies (it may fail in cases
# where none does; the details then find none). The set of markers is a
# literal copy of general_markers.
record_valid if {
	object.get(c, "general", null) != true
	object.get(c, "withdrawn_at", null) == null
	object.get(c, "discloser", input.sender.id) == input.sender.id
	object.get(c, ["subject", "pseudonym"], null) == lib.claim(["subject", "pseudonym"])
	is_string(c.purpose)
	trim_space(c.purpose) != ""
	lib.claim(["purpose"]) == c.purpose
	lib.category in categories
	count(categories & {"*", "all", "any"}) == 0
	count(recipients & {"*", "all", "any"}) == 0
	d := c.documented
	d.how in {"written", "oral", "digital"}
	is_string(d.by)
	trim_space(d.by) != ""
	time.parse_rfc3339_ns(d.at) <= lib.now_ns
	time.parse_rfc3339_ns(c.valid_from) <= lib.now_ns

	# No valid_until is no end; 2262 is the last year of nanosecond time.
	time.parse_rfc3339_ns(object.get(c, "valid_until", "2262-01-01T00:00:00Z")) >= lib.now_ns

	# decided_at is absent or a valid time.
	time.parse_rfc3339_ns(object.get(input, "decided_at", "1970-01-01T00:00:00Z"))
	whose_consent_ok
}

# Whose consent is needed was given (see the last rules below).
whose_consent_ok if {
	subject_age >= 18
	count(given("person")) > 0
}

whose_consent_ok if {
	subject_age < 18
	child_may_consent_alone
}

whose_consent_ok if {
	subject_age < 18
	count(guardian_problems) == 0
}

record_problem_details contains "a general waiver is not a valid consent (Q17): it must name the data, the recipient and the purpose" if {
	c.general == true
}

record_problem_details contains "a general waiver is not a valid consent (Q17): it must name the data, the recipient and the purpose" if {
	some x in (categories | recipients)
	x in general_markers
}

record_problem_details contains "consent is not documented (consent.documented with how, by, at): an oral consent counts when it is documented (Q17)" if {
	not documented
}

documented if {
	d := c.documented
	d.how in {"written", "oral", "digital"}
	lib.non_empty_string(d.by)
	time.parse_rfc3339_ns(d.at) <= lib.now_ns
}

record_problem_details contains sprintf("consent does not cover data category %s (consent.categories)", [lib.category_shown]) if {
	not lib.category in categories
}

record_problem_details contains "consent does not state a purpose (consent.purpose)" if {
	not lib.non_empty_string(object.get(c, "purpose", null))
}

record_problem_details contains "the message's purpose (claims.purpose) is not the purpose consented to (consent.purpose): a consent covers only its own purpose" if {
	lib.non_empty_string(object.get(c, "purpose", null))
	lib.claim(["purpose"]) != c.purpose
}

record_problem_details contains "consent is for another subject (consent.subject.pseudonym differs from claims.subject.pseudonym)" if {
	object.get(c, ["subject", "pseudonym"], null) != lib.claim(["subject", "pseudonym"])
}

record_problem_details contains sprintf("consent lets %v disclose, not the sender", [c.discloser]) if {
	object.get(c, "discloser", null) != null
	c.discloser != input.sender.id
}

record_problem_details contains "consent has no valid start (consent.valid_from)" if {
	not time.parse_rfc3339_ns(object.get(c, "valid_from", ""))
}

record_problem_details contains "consent is not yet valid at the message's time" if {
	time.parse_rfc3339_ns(c.valid_from) > lib.now_ns
}

record_problem_details contains "consent had expired at the message's time" if {
	time.parse_rfc3339_ns(c.valid_until) < lib.now_ns
}

record_problem_details contains "consent.valid_until is not a valid time: cannot tell whether the consent had expired" if {
	object.get(c, "valid_until", null) != null
	not time.parse_rfc3339_ns(c.valid_until)
}

# Q18: a withdrawal stops every message created or decided after it. The
# broker decides after the message was created (input.decided_at, its clock
# when it decides; absent in offline inputs), so a message created just
# before a withdrawal but decided after it is stopped too.
withdrawn_ns := time.parse_rfc3339_ns(c.withdrawn_at)

decided_at := object.get(input, "decided_at", null)

decided_ns := time.parse_rfc3339_ns(decided_at)

record_problem_details contains sprintf("consent was withdrawn at %v, before the message (Q18)", [c.withdrawn_at]) if {
	withdrawn_ns <= lib.now_ns
}

record_problem_details contains sprintf("consent was withdrawn at %v, before the message was decided at %v (Q18)", [c.withdrawn_at, decided_at]) if {
	withdrawn_ns > lib.now_ns
	withdrawn_ns <= decided_ns
}

record_problem_details contains sprintf("decided_at is not a valid time (%v): cannot tell whether the consent was withdrawn before the decision (Q18)", [decided_at]) if {
	decided_at != null
	not decided_ns
}

record_problem_details contains "consent.withdrawn_at is not a valid time" if {
	object.get(c, "withdrawn_at", null) != null
	not time.parse_rfc3339_ns(c.withdrawn_at)
}

# Whose consent is needed.
record_problem_details contains "the subject's age is unknown: cannot tell whose consent is needed" if not subject_age

record_problem_details contains "from 18 the person consents alone: the record has no consent given by the person" if {
	subject_age >= 18
	count(given("person")) == 0
}

record_problem_details contains r if {
	subject_age < 18
	not child_may_consent_alone
	some r in guardian_problems
}

# Q16: in some cases a young person under 18 consents alone, after an
# individual assessment of age, maturity, the data and the kind of case.
child_may_consent_alone if {
	count(lib.judgement_problems(object.get(c, "child_alone_assessment", null), "", "may_consent_alone")) == 0
	count(given("child")) > 0
}

guardians_needed := n if {
	n := c.guardian_count
	is_number(n)
	n >= 1
}

guardian_problems contains "consent.guardian_count is missing or not a number of at least 1: the record must say how many guardians must consent (Q16)" if {
	not guardians_needed
}

guardian_problems contains sprintf("a child under 18 needs the guardians' consent: %d of %d given", [count(given("guardian")), guardians_needed]) if {
	count(given("guardian")) < guardians_needed
	count(given("child")) == 0
}

# The child consented but the guardians did not: the way forward is the
# documented judgement that this child may consent alone (Q16), or the
# guardians' consent.
guardian_problems contains sprintf("the child consented alone, which counts only after a documented judgement that the child may consent alone (consent.child_alone_assessment, outcome may_consent_alone, Q16); otherwise a child under 18 needs the guardians' consent: %d of %d given", [count(given("guardian")), guardians_needed]) if {
	count(given("guardian")) < guardians_needed
	count(given("child")) > 0
}

guardian_problems contains r if {
	count(given("child")) > 0
	a := object.get(c, "child_alone_assessment", null)
	a != null
	some r in lib.judgement_problems(a, "the judgement that the child may consent alone (consent.child_alone_assessment, Q16)", "may_consent_alone")
}

# Q16: whether the child's age and maturity require the child's own consent
# is an official's documented judgement: who made it, when, and its outcome.
maturity := object.get(c, "maturity_assessment", null)

maturity_outcomes := {"child_consent_required", "child_consent_not_required"}

maturity_outcome := o if {
	o := maturity.outcome
	o in maturity_outcomes
} else := "child_consent_required or child_consent_not_required"

guardian_problems contains r if {
	some r in lib.judgement_problems(
		maturity,
		"the maturity judgement (consent.maturity_assessment: whether the child's own consent is needed, Q16)",
		maturity_outcome,
	)
}

guardian_problems contains "the child's own consent is required given age and maturity but was not given (Q16)" if {
	maturity.outcome == "child_consent_required"
	count(given("child")) == 0
}
