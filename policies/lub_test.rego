package sekretess_test.lub

import data.sekretess
import data.sekretess_test.fixtures as f

contact_answer(sender, t, extra) := f.reply(
	sender, f.police, "response", t,
	object.union({"category": "contact_details", "subject": {"pseudonym": "p-1", "age": 15}}, extra),
	f.request_record(f.police, sender, "R-LUB-CONTACT", "contact_details"),
)

# --- R-LUB-CONTACT ----------------------------------------------------------

# Contact details on the police's request are a duty under LUB 4 § (Q12):
# that is the rule reported even when 10:18 a would also allow them.
test_precedence_lub_contact_over_1018a_q12 if {
	d := sekretess.decision with input as contact_answer(f.social_services, f.t, {
		"interest_assessment": f.judgement("disclose"),
		"conditions_1018a": {
			"by": "H", "at": "2026-01-14T10:00:00+01:00",
			"risk_of_crime": {"met": true, "text": "a"}, "helps_prevent": {"met": true, "text": "b"}, "not_inappropriate": {"met": true, "text": "c"},
		},
	})
	d.rule == "R-LUB-CONTACT"
	"R-1018A" in d.also_allowed_by
}

test_lub_contact_social_services_with_assessment_q12 if {
	d := sekretess.decision with input as contact_answer(f.social_services, f.t, {"interest_assessment": f.judgement("disclose")})
	d.allow
	d.rule == "R-LUB-CONTACT"
	d.basis == "LUB (2025:170) 4 §"
}

test_lub_contact_social_services_without_assessment_denied if {
	d := sekretess.decision with input as contact_answer(f.social_services, f.t, {})
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: assessment that no synnerliga skäl speak against giving the contact details (claims.interest_assessment, LUB 4 §) is missing")
}

test_lub_contact_synnerliga_skal_denied if {
	d := sekretess.decision with input as contact_answer(f.social_services, f.t, {"interest_assessment": f.judgement("withhold")})
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: assessment that no synnerliga skäl speak against giving the contact details (claims.interest_assessment, LUB 4 §) outcome is not \"disclose\"")
	not f.has_reason(d, "withhold")
}

test_lub_contact_school_public_contact_no_assessment_q4 if {
	d := sekretess.decision with input as contact_answer(f.municipal_school, f.t, {"secret": false})
	d.allow
	d.rule == "R-LUB-CONTACT"
}

test_lub_contact_before_2025_04_01_denied if {
	d := sekretess.decision with input as contact_answer(f.social_services, "2025-03-31T23:59:59+02:00", {"interest_assessment": f.judgement("disclose")})
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: not in force")
}

test_lub_contact_on_2025_04_01_allowed if {
	i := contact_answer(f.social_services, "2025-04-01T00:00:00+02:00", {"interest_assessment": {"by": "Handläggare", "at": "2025-03-31T12:00:00+02:00", "outcome": "disclose"}})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-LUB-CONTACT"
}

test_lub_contact_needs_police_request if {
	rec := object.union(f.request_record(f.police, f.social_services, "R-LUB-CONTACT", "contact_details"), {"sender": f.municipal_school.id})
	i := f.reply(f.social_services, f.police, "response", f.t, {"category": "contact_details", "interest_assessment": f.judgement("disclose")}, rec)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: must answer a request from the police to this sender")
}

test_lub_contact_request_from_police_allowed if {
	i := f.msg(f.police, f.social_services, "request", f.t, {"category": "contact_details", "purpose": "förundersökning: behöver nå den unge"})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-LUB-CONTACT"
}

test_lub_contact_request_from_school_denied if {
	i := f.msg(f.municipal_school, f.social_services, "request", f.t, {"category": "contact_details", "purpose": "x"})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: a request comes from the police")
}

# --- R-LUB-REQUEST ----------------------------------------------------------

# The answer to a police request for the data in extra.category.
answer(t, extra) := f.reply(
	f.municipal_school, f.police, "response", t,
	object.union({"subject": {"pseudonym": "p-1", "age": 15}, "sender_role": "rector"}, extra),
	f.request_record(f.police, f.municipal_school, "R-LUB-REQUEST", object.get(extra, "category", "attendance")),
)

test_lub_contact_answers_only_what_was_asked_q4 if {
	asked := f.request_record(f.police, f.municipal_school, "R-LUB-REQUEST", "enrolment")
	i := f.reply(
		f.municipal_school, f.police, "response", f.t,
		{"subject": {"pseudonym": "p-1", "age": 15}, "sender_role": "rector", "category": "contact_details", "interest_assessment": f.judgement("disclose")},
		asked,
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-LUB-CONTACT: the police asked for enrolment, not contact_details: the duty covers the data requested (Q4)")
}

test_lub_request_answers_only_what_was_asked_q5 if {
	asked := f.request_record(f.police, f.municipal_school, "R-LUB-REQUEST", "enrolment")
	i := f.reply(
		f.municipal_school, f.police, "response", f.t,
		{"subject": {"pseudonym": "p-1", "age": 15}, "sender_role": "rector", "category": "risk_environment", "interest_assessment": f.judgement("disclose")},
		asked,
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-LUB-REQUEST: the police asked for enrolment, not risk_environment: the duty covers the data requested (Q5)")
}

test_lub_request_secret_with_assessment_q5 if {
	d := sekretess.decision with input as answer(f.t, {"category": "attendance", "interest_assessment": f.judgement("disclose")})
	d.allow
	d.rule == "R-LUB-REQUEST"
	d.basis == "LUB (2025:170) 7 § första stycket"
}

test_lub_request_secret_without_assessment_denied if {
	d := sekretess.decision with input as answer(f.t, {"category": "attendance"})
	not d.allow
	f.has_reason(d, "R-LUB-REQUEST: interest assessment (claims.interest_assessment) is missing")
}

test_lub_request_public_enrolment_always_q5 if {
	d := sekretess.decision with input as answer(f.t, {"category": "enrolment"})
	d.allow
	d.rule == "R-LUB-REQUEST"
	d.also_allowed_by == ["R-SCHOOL-PUBLIC"]
}

test_lub_request_not_rector_denied if {
	d := sekretess.decision with input as answer(f.t, {"category": "attendance", "sender_role": "teacher", "interest_assessment": f.judgement("disclose")})
	not d.allow
	f.has_reason(d, "R-LUB-REQUEST: the duty lies with the rector")
}

test_lub_request_health_not_covered if {
	d := sekretess.decision with input as answer(f.t, {"category": "health", "interest_assessment": f.judgement("disclose")})
	not d.allow
	f.has_reason(d, "R-LUB-REQUEST: category health is not data held in the rector's activity")
}

test_lub_request_before_in_force if {
	d := sekretess.decision with input as answer("2025-03-15T10:00:00+01:00", {"category": "attendance", "interest_assessment": {"by": "Rektor", "at": "2025-03-15T09:00:00+01:00", "outcome": "disclose"}})
	not d.allow
	f.has_reason(d, "R-LUB-REQUEST: not in force")
}

test_lub_request_independent_school_covered if {
	i := f.reply(
		f.independent_school, f.police, "response", f.t,
		{"category": "grades", "sender_role": "rector", "interest_assessment": f.judgement("disclose")},
		f.request_record(f.police, f.independent_school, "R-LUB-REQUEST", "grades"),
	)
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-LUB-REQUEST"
}

# --- R-LUB-OWN --------------------------------------------------------------

own(t, extra) := f.msg(
	f.municipal_school, f.police, "disclosure", t,
	object.union({"category": "risk_environment", "subject": {"pseudonym": "p-1", "age": 14}, "sender_role": "rector", "purpose": "eleven tros befinna sig i kriminell riskmiljö"}, extra),
)

test_lub_own_rector_with_assessment_q2 if {
	d := sekretess.decision with input as own(f.t, {"interest_assessment": f.judgement("disclose")})
	d.allow
	d.rule == "R-LUB-OWN"
	d.basis == "LUB (2025:170) 7 § andra stycket"
}

test_lub_own_without_assessment_denied_q2 if {
	d := sekretess.decision with input as own(f.t, {})
	not d.allow
	f.has_reason(d, "R-LUB-OWN: interest assessment (claims.interest_assessment) is missing")
}

test_lub_own_overriding_reason_denied if {
	d := sekretess.decision with input as own(f.t, {"interest_assessment": f.judgement("withhold")})
	not d.allow
}

test_lub_own_before_2025_04_01_denied if {
	d := sekretess.decision with input as own("2025-03-31T12:00:00+02:00", {"interest_assessment": {"by": "R", "at": "2025-03-31T11:00:00+02:00", "outcome": "disclose"}})
	not d.allow
	f.has_reason(d, "R-LUB-OWN: not in force at the message's time 2025-03-31T12:00:00+02:00: in force from 2025-04-01")
}

test_lub_own_teacher_denied if {
	d := sekretess.decision with input as own(f.t, {"sender_role": "teacher", "interest_assessment": f.judgement("disclose")})
	not d.allow
	f.has_reason(d, "R-LUB-OWN: the duty lies with the rector")
}

# --- R-SCHOOL-PUBLIC --------------------------------------------------------

public(sender, cat, extra) := f.msg(sender, f.police, "disclosure", f.t, object.union({"category": cat}, extra))

test_school_public_class_list_q4 if {
	d := sekretess.decision with input as public(f.municipal_school, "class_list", {})
	d.allow
	d.rule == "R-SCHOOL-PUBLIC"
	d.basis == "OSL 23 kap. 2 § tredje stycket (uppgiften omfattas inte av sekretess)"
}

test_school_public_independent_school_basis_q6 if {
	d := sekretess.decision with input as public(f.independent_school, "school_catalogue", {})
	d.allow
	d.rule == "R-SCHOOL-PUBLIC"
	d.basis == "skollagen (2010:800) 29 kap. 14 § (uppgiften omfattas inte av tystnadsplikt)"
}

test_school_public_attendance_is_not_public if {
	d := sekretess.decision with input as public(f.municipal_school, "attendance", {})
	not d.allow
	f.has_reason(d, "R-SCHOOL-PUBLIC: category attendance is not public school data")
}

test_school_public_protected_identity_denied if {
	d := sekretess.decision with input as public(f.municipal_school, "enrolment", {"secret": true})
	not d.allow
	f.has_reason(d, "R-SCHOOL-PUBLIC: the sender marked this pupil's enrolment, class list or catalogue data secret (claims.secret: a special reason to assume harm, OSL 23 kap. 2 § tredje stycket")
}

# For data that is not public school data anyway (ordinary pupil secrecy,
# health), the secret mark is not given as a reason: it would mislead.
test_school_public_secret_mark_only_for_public_categories if {
	d := sekretess.decision with input as public(f.municipal_school, "health", {"secret": true})
	not d.allow
	f.has_reason(d, "R-SCHOOL-PUBLIC: category health is not public school data")
	not f.has_reason(d, "claims.secret")
	f.has_reason(d, "R-GENERAL: never for health secrecy (OSL 25 kap., excluded by 10 kap. 27 § andra stycket): health data needs consent (R-CONSENT)")
}

test_school_public_only_to_police if {
	d := sekretess.decision with input as f.msg(f.municipal_school, f.social_services, "disclosure", f.t, {"category": "class_list"})
	not d.allow
	f.has_reason(d, "R-SCHOOL-PUBLIC: recipient is not the police")
}

test_school_public_before_lub_still_allowed_q4 if {
	d := sekretess.decision with input as f.msg(f.municipal_school, f.police, "disclosure", "2024-10-01T10:00:00+02:00", {"category": "enrolment"})
	d.allow
	d.rule == "R-SCHOOL-PUBLIC"
}
