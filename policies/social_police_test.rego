package sekretess_test.social_police

import data.sekretess
import data.sekretess_test.fixtures as f

# --- R-FEEDBACK -------------------------------------------------------------

feedback(reporter, t, extra) := f.reply(
	f.social_services, reporter, "feedback", t,
	object.union(
		{
			"category": "investigation_status", "investigation_status": "opened",
			"feedback_requested": true, "guardian_informed": true,
			"feedback_assessment": {"by": "Handläggare Berg", "at": "2026-01-10T09:00:00+01:00", "outcome": "appropriate"},
		},
		extra,
	),
	f.concern_record(reporter, f.social_services),
)

test_feedback_status_to_school_q9 if {
	i := feedback(f.municipal_school, "2025-12-15T10:00:00+01:00", {"feedback_assessment": {"by": "H", "at": "2025-12-15T09:00:00+01:00", "outcome": "appropriate"}})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FEEDBACK"
	d.obligations == ["status-only"]
	d.basis == "SoL (2025:400) 19 kap. 6 §"
}

# From 2026-01-15 (SFS 2025:1501, 2025:1495): the one-week deadline is
# recorded, never refused for, and the feedback is secret at the reporter.
deadline_kept := "feedback deadline: one week after the decision whether to open an investigation; kept (SoL (2025:400) 19 kap. 6 § andra stycket)"

deadline_late := "feedback deadline: one week after the decision whether to open an investigation; passed, the feedback is late but still lawful (SoL (2025:400) 19 kap. 6 § andra stycket)"

test_feedback_deadline_kept_from_2026_01_15 if {
	d := sekretess.decision with input as feedback(f.municipal_school, f.t, {"investigation_decided_at": "2026-01-12T10:00:00+01:00"})
	d.allow
	d.rule == "R-FEEDBACK"
	d.basis == "SoL (2025:400) 19 kap. 6 §"
	d.obligations == [deadline_kept, "secret at the reporter: OSL 40 kap. 7 g §", "status-only"]
}

test_feedback_late_is_still_allowed if {
	i := feedback(f.municipal_school, f.t, {"investigation_decided_at": "2026-01-05T10:00:00+01:00"})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FEEDBACK"
	deadline_late in d.obligations
	d.reasons == []
}

test_feedback_asked_for_after_the_week_is_due_at_once if {
	i := feedback(f.municipal_school, f.t, {"investigation_decided_at": "2025-12-01T10:00:00+01:00", "feedback_requested_at": "2026-01-14T10:00:00+01:00"})
	d := sekretess.decision with input as i
	d.allow
	"feedback deadline: at once, asked for after the week following the decision whether to open an investigation (SoL (2025:400) 19 kap. 6 § andra stycket)" in d.obligations
}

test_feedback_ongoing_investigation_due_at_once if {
	d := sekretess.decision with input as feedback(f.municipal_school, f.t, {"investigation_status": "ongoing"})
	d.allow
	"feedback deadline: at once, an investigation is already under way (SoL (2025:400) 19 kap. 6 § andra stycket)" in d.obligations
}

test_feedback_no_deadline_or_reporter_secrecy_before_2026_01_15 if {
	i := feedback(f.municipal_school, "2026-01-14T23:59:59+01:00", {"investigation_decided_at": "2025-12-01T10:00:00+01:00", "feedback_assessment": {"by": "H", "at": "2026-01-14T09:00:00+01:00", "outcome": "appropriate"}})
	d := sekretess.decision with input as i
	d.allow
	d.obligations == ["status-only"]
	d2 := sekretess.decision with input as json.patch(i, [{"op": "replace", "path": "/message/created_at", "value": "2026-01-15T00:00:00+01:00"}])
	d2.allow
	deadline_late in d2.obligations
	"secret at the reporter: OSL 40 kap. 7 g §" in d2.obligations
}

# SoL (2025:400) 19 kap. 6 §: feedback only to a reporter under 19 kap.
# 1-3 §§. Tullverket is named in 19 kap. 1 § only from 2026-01-15.
test_feedback_only_to_a_reporter_under_the_duty if {
	rec := object.union(f.concern_record(f.customs, f.social_services), {"created_at": "2025-11-01T08:00:00+01:00"})
	i := object.union(feedback(f.customs, f.t, {}), {"reply_to": rec})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-FEEDBACK: the recipient did not report under a duty of SoL (2025:400) 19 kap. 1-3 §§")
	later := object.union(i, {"reply_to": {"created_at": "2026-01-15T08:00:00+01:00"}})
	d2 := sekretess.decision with input as later
	d2.allow
	d2.rule == "R-FEEDBACK"
}

test_feedback_basis_old_sol_before_2025_07_01 if {
	i := feedback(f.police, "2025-06-15T10:00:00+02:00", {"feedback_assessment": {"by": "H", "at": "2025-06-15T09:00:00+02:00", "outcome": "appropriate"}})
	d := sekretess.decision with input as i
	d.allow
	d.basis == "SoL (2001:453) 14 kap. 1 b §"
}

test_feedback_guardian_not_told_denied_q9 if {
	d := sekretess.decision with input as feedback(f.municipal_school, f.t, {"guardian_informed": false})
	not d.allow
	f.has_reason(d, "R-FEEDBACK: inappropriate: the guardian has not yet been told")
}

test_feedback_more_than_status_needs_consent_q9 if {
	d := sekretess.decision with input as feedback(f.municipal_school, f.t, {"category": "case_details"})
	not d.allow
	f.has_reason(d, "R-FEEDBACK: category must be investigation_status, not case_details")
	f.has_reason(d, "R-CONSENT: no consent record resolved by the broker")
}

test_feedback_to_someone_who_did_not_report_denied if {
	i := object.union(feedback(f.municipal_school, f.t, {}), {"recipient": f.police})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-FEEDBACK: must reply to a report of concern that the recipient made to this sender")
}

test_feedback_without_assessment_denied if {
	i := json.remove(feedback(f.municipal_school, f.t, {}), ["claims/feedback_assessment"])
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-FEEDBACK: assessment that feedback is not inappropriate (claims.feedback_assessment) is missing")
}

# --- R-1018A ----------------------------------------------------------------

sapo := f.security_police

tull := f.customs

conds := {
	"by": "Handläggare Berg", "at": "2026-01-14T15:00:00+01:00",
	"risk_of_crime": {"met": true, "text": "rör sig i kriminellt nätverk, beslag av narkotika"},
	"helps_prevent": {"met": true, "text": "polisen kan ingripa i samverkan med SSPF"},
	"not_inappropriate": {"met": true, "text": "stör inte pågående insats"},
}

to_police(extra) := f.msg(
	f.social_services, f.police, "disclosure", f.t,
	object.union({"category": "risk_environment", "subject": {"pseudonym": "p-9", "age": 19}}, extra),
)

test_1018a_allowed_under_21_q11 if {
	d := sekretess.decision with input as to_police({"conditions_1018a": conds})
	d.allow
	d.rule == "R-1018A"
	d.basis == "OSL 10 kap. 18 a §"
}

# 10:18 a is in force from 2013-01-01 (prop. 2011/12:171), midnight Swedish time.
test_1018a_from_2013_01_01 if {
	early := object.union(conds, {"at": "2012-12-30T10:00:00+01:00"})
	before := json.patch(to_police({"conditions_1018a": early}), [{"op": "replace", "path": "/message/created_at", "value": "2012-12-31T23:59:59+01:00"}])
	d := sekretess.decision with input as before
	not d.allow
	f.has_reason(d, "R-1018A: not in force at the message's time 2012-12-31T23:59:59+01:00: in force from 2013-01-01")
	on := json.patch(to_police({"conditions_1018a": early}), [{"op": "replace", "path": "/message/created_at", "value": "2013-01-01T00:00:00+01:00"}])
	d2 := sekretess.decision with input as on
	d2.allow
	d2.rule == "R-1018A"
}

test_1018a_age_21_denied if {
	d := sekretess.decision with input as to_police({"conditions_1018a": conds, "subject": {"pseudonym": "p-9", "birth_date": "2005-01-15"}})
	not d.allow
	f.has_reason(d, "R-1018A: subject is 21 or older")
}

test_1018a_day_before_21st_birthday_allowed if {
	d := sekretess.decision with input as to_police({"conditions_1018a": conds, "subject": {"pseudonym": "p-9", "birth_date": "2005-01-16"}})
	d.allow
	d.rule == "R-1018A"
}

test_1018a_missing_condition_names_it if {
	c := json.patch(conds, [{"op": "replace", "path": "/not_inappropriate/met", "value": false}])
	d := sekretess.decision with input as to_police({"conditions_1018a": c})
	not d.allow
	f.has_reason(d, "R-1018A: condition (2) not inappropriate given planned or ongoing interventions or for other special reasons is not shown as met")
}

test_1018a_missing_assessment_denied if {
	d := sekretess.decision with input as to_police({})
	not d.allow
	f.has_reason(d, "R-1018A: the documented assessment of the conditions of OSL 10 kap. 18 a § is missing (claims.conditions_1018a: by, at and not_inappropriate, risk_of_crime)")
}

# OSL 10 kap. 18 a § in the wording of Lag 2025:179, from 2025-04-01: two
# conditions. The same disclosure with only those two documented is allowed
# from that day and denied before it, when the third condition (the data can
# be assumed to help prevent the crime) was still required.
two_conds := {
	"by": "Handläggare Berg", "at": "2025-03-19T15:00:00+01:00",
	"risk_of_crime": {"met": true, "text": "rör sig i kriminellt nätverk"},
	"not_inappropriate": {"met": true, "text": "stör inte pågående insats"},
}

at(i, t) := json.patch(i, [{"op": "replace", "path": "/message/created_at", "value": t}])

test_1018a_two_conditions_from_2025_04_01 if {
	i := to_police({"conditions_1018a": two_conds})
	d := sekretess.decision with input as at(i, "2025-05-01T10:00:00+02:00")
	d.allow
	d.rule == "R-1018A"
	d.basis == "OSL 10 kap. 18 a §"
	on := sekretess.decision with input as at(i, "2025-04-01T00:00:00+02:00")
	on.allow
	d2 := sekretess.decision with input as at(i, "2025-03-20T10:00:00+01:00")
	not d2.allow
	f.has_reason(d2, "R-1018A: condition (2) the data can be assumed to help prevent it is not shown as met with a text (claims.conditions_1018a.helps_prevent)")
	eve := sekretess.decision with input as at(i, "2025-03-31T23:59:59+02:00")
	not eve.allow
}

test_1018a_three_conditions_still_allowed_before_2025_04_01 if {
	d := sekretess.decision with input as at(to_police({"conditions_1018a": object.union(conds, {"at": "2025-03-19T15:00:00+01:00"})}), "2025-03-20T10:00:00+01:00")
	d.allow
	d.rule == "R-1018A"
}

test_1018a_security_police_and_customs_from_2025_04_01 if {
	every p in [sapo, tull] {
		i := object.union(to_police({"conditions_1018a": two_conds}), {"recipient": p})
		d := sekretess.decision with input as at(i, "2025-05-01T10:00:00+02:00")
		d.allow
		d.rule == "R-1018A"
		before := sekretess.decision with input as at(object.union(i, {"claims": {"conditions_1018a": conds}}), "2025-03-31T10:00:00+02:00")
		not before.allow
		f.has_reason(before, "R-1018A: recipient is not Polismyndigheten (Säkerhetspolisen and Tullverket only from 2025-04-01, Lag 2025:179)")
	}
}

test_1018a_not_to_a_school_at_any_date if {
	i := object.union(to_police({"conditions_1018a": two_conds}), {"recipient": f.municipal_school})
	d := sekretess.decision with input as at(i, "2025-05-01T10:00:00+02:00")
	not d.allow
	f.has_reason(d, "R-1018A: recipient is not Polismyndigheten, Säkerhetspolisen or Tullverket")
}

test_1018a_not_for_committed_crime if {
	d := sekretess.decision with input as to_police({"conditions_1018a": conds, "category": "crime_suspicion"})
	not d.allow
	f.has_reason(d, "R-1018A: data about suspicion of an already committed crime")
}

test_1018a_social_services_never_general_clause_q14 if {
	d := sekretess.decision with input as to_police({"general_clause_weighing": f.judgement("manifestly_outweighs")})
	not d.allow
	f.has_reason(d, "R-GENERAL: never for social services secrecy")
}

# --- R-CRIME-SUSPECT --------------------------------------------------------

suspect(offence) := to_police({"category": "crime_suspicion", "offence": offence})

test_crime_suspect_10_23_serious if {
	d := sekretess.decision with input as suspect({"section": "10:23", "class": "serious_crime", "min_penalty_years": 1})
	d.allow
	d.rule == "R-CRIME-SUSPECT"
	d.basis == "OSL 10 kap. 23 §"
}

test_crime_suspect_10_23_minor_offence_denied if {
	d := sekretess.decision with input as suspect({"section": "10:23", "class": "serious_crime", "min_penalty_years": 0})
	not d.allow
	f.has_reason(d, "R-CRIME-SUSPECT: 10:23 requires a crime with a minimum penalty of six months' imprisonment")
}

# OSL 10 kap. 23 § thresholds from 2025-04-01 (Lag 2025:179): six months, an
# attempt one year; before: one year, an attempt two years.
test_crime_suspect_10_23_thresholds_by_date if {
	six_months := suspect({"section": "10:23", "class": "serious_crime", "min_penalty_years": 0.5})
	d := sekretess.decision with input as at(six_months, "2025-04-01T00:00:00+02:00")
	d.allow
	d.basis == "OSL 10 kap. 23 §"
	old := sekretess.decision with input as at(six_months, "2025-03-31T23:59:59+02:00")
	not old.allow
	f.has_reason(old, "R-CRIME-SUSPECT: 10:23 before 2025-04-01 requires a crime with a minimum penalty of one year's imprisonment")
	attempt := suspect({"section": "10:23", "class": "serious_crime", "min_penalty_years": 1, "attempt": true})
	a := sekretess.decision with input as at(attempt, "2025-04-01T00:00:00+02:00")
	a.allow
	a_old := sekretess.decision with input as at(attempt, "2025-03-31T23:59:59+02:00")
	not a_old.allow
}

test_crime_suspect_10_23_to_security_police_and_customs if {
	i := suspect({"section": "10:23", "class": "serious_crime", "min_penalty_years": 1})
	s := sekretess.decision with input as object.union(i, {"recipient": sapo})
	s.allow
	s.rule == "R-CRIME-SUSPECT"
	c := sekretess.decision with input as object.union(i, {"recipient": tull})
	not c.allow
	f.has_reason(c, "R-CRIME-SUSPECT: Tullverket gets data under OSL 10 kap. 23 § only for a crime it has the task of intervening against")
	c2 := sekretess.decision with input as object.union(i, {"recipient": tull, "claims": {"offence": {"customs_task": true}}})
	c2.allow
	n := sekretess.decision with input as object.union(suspect({"section": "10:22", "class": "supply_to_young", "supply": "alcohol", "victim_under_18": true}), {"recipient": sapo})
	not n.allow
	f.has_reason(n, "R-CRIME-SUSPECT: OSL 10 kap. 22 § lets the data go to Polismyndigheten only")
}

test_crime_suspect_10_20_immediate_intervention if {
	i := suspect({"section": "10:20", "class": "immediate_intervention", "found_by_staff": true, "situation": "committing_crime"})
	d := sekretess.decision with input as object.union(i, {"claims": {"subject": {"pseudonym": "p-9", "age": 16}}})
	d.allow
	d.basis == "OSL 10 kap. 20 §"
	adult := sekretess.decision with input as i
	not adult.allow
	f.has_reason(adult, "R-CRIME-SUSPECT: 10:20 requires that social services' staff found someone probably under 18")
}

# 10:21 in the wording of Lag 2025:965 covers a virginity intervention from
# 2025-12-01.
test_crime_suspect_10_21_virginity_intervention_from_2025_12_01 if {
	i := suspect({"section": "10:21", "class": "crime_against_child", "victim_under_18": true, "virginity_intervention": true})
	d := sekretess.decision with input as at(i, "2025-12-01T00:00:00+01:00")
	d.allow
	d.basis == "OSL 10 kap. 21 §"
	old := sekretess.decision with input as at(i, "2025-11-30T23:59:59+01:00")
	not old.allow
	f.has_reason(old, "R-CRIME-SUSPECT: a virginity intervention (oskuldsingrepp) is covered by OSL 10 kap. 21 § only from 2025-12-01 (Lag 2025:965)")
	fgm := sekretess.decision with input as at(suspect({"section": "10:21", "class": "crime_against_child", "victim_under_18": true, "fgm": true}), "2025-11-30T23:59:59+01:00")
	fgm.allow
}

# 10:21 and 10:23 name health secrecy (OSL 25 kap. 1 §): a municipal
# school's nurse may tell the police of injuries that suggest a crime against
# a child; other school data goes under 10:24. An independent school is not
# under OSL.
test_crime_suspect_school_health_under_10_21 if {
	i := f.msg(f.municipal_school, f.police, "disclosure", f.t, {
		"category": "health", "subject": {"pseudonym": "p-9", "age": 9},
		"offence": {"section": "10:21", "class": "crime_against_child", "victim_under_18": true, "brb_chapter": 3},
	})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-CRIME-SUSPECT"
	d.basis == "OSL 10 kap. 21 §"
	other := sekretess.decision with input as object.union(i, {"claims": {"category": "attendance"}})
	not other.allow
	f.has_reason(other, "R-CRIME-SUSPECT: OSL 10 kap. 21 § reaches a school's data only under health secrecy")
	indep := sekretess.decision with input as object.union(i, {"sender": f.independent_school})
	not indep.allow
	f.has_reason(indep, "R-CRIME-SUSPECT: OSL 10 kap. 21 § is encoded for social services' secrecy (OSL 26 kap. 1 §) and for elevhälsa's health records")
	s24 := sekretess.decision with input as object.union(i, {"claims": {"offence": {"section": "10:24", "class": "imprisonment_in_scale", "imprisonment_in_scale": true}}})
	not s24.allow
	f.has_reason(s24, "R-CRIME-SUSPECT: health data is under OSL 25 kap., which 10 kap. 24 § does not cover")
}

# 10:24: secrecy that 10:19-23 do not name, e.g. a municipal school's.
test_crime_suspect_10_24_municipal_school if {
	i := f.msg(f.municipal_school, f.police, "disclosure", f.t, {
		"category": "crime_suspicion", "subject": {"pseudonym": "p-9", "age": 15},
		"offence": {"section": "10:24", "class": "imprisonment_in_scale", "imprisonment_in_scale": true},
	})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-CRIME-SUSPECT"
	d.basis == "OSL 10 kap. 24 §"
	indep := sekretess.decision with input as object.union(i, {"sender": f.independent_school})
	not indep.allow
	f.has_reason(indep, "R-CRIME-SUSPECT: OSL 10 kap. 24 § covers secrecy that 10 kap. 19-23 §§ do not name")
	soc := sekretess.decision with input as object.union(i, {"sender": f.social_services})
	not soc.allow
	fine := sekretess.decision with input as json.patch(i, [{"op": "replace", "path": "/claims/offence/imprisonment_in_scale", "value": false}])
	not fine.allow
	f.has_reason(fine, "R-CRIME-SUSPECT: 10:24 requires a crime with imprisonment in its scale")
}

test_crime_suspect_10_21_against_child if {
	d := sekretess.decision with input as suspect({"section": "10:21", "class": "crime_against_child", "victim_under_18": true, "brb_chapter": 3})
	d.allow
	d.basis == "OSL 10 kap. 21 §"
}

test_crime_suspect_10_22_supply_to_young if {
	d := sekretess.decision with input as suspect({"section": "10:22", "class": "supply_to_young", "supply": "alcohol", "victim_under_18": true})
	d.allow
	d.basis == "OSL 10 kap. 22 §"
}

# 10:22 is about supplying the young, not any crime in progress, nor a minor
# case, nor an adult; 10:20 is not encoded.
test_crime_suspect_10_22_only_supply_to_young if {
	every offence in [
		{"section": "10:22", "class": "supply_to_young", "in_progress": true},
		{"section": "10:22", "class": "supply_to_young", "supply": "alcohol", "victim_under_18": true, "minor_case": true},
		{"section": "10:22", "class": "supply_to_young", "supply": "narcotics", "victim_under_18": false},
	] {
		d := sekretess.decision with input as suspect(offence)
		not d.allow
		f.has_reason(d, "R-CRIME-SUSPECT: 10:22 requires a suspected supply")
	}
	d := sekretess.decision with input as suspect({"section": "10:20", "class": "serious_crime", "min_penalty_years": 2})
	not d.allow
	f.has_reason(d, "R-CRIME-SUSPECT: claims.offence.class must be immediate_intervention for OSL 10:20, not serious_crime")
}

test_crime_suspect_class_mismatch_denied if {
	d := sekretess.decision with input as suspect({"section": "10:21", "class": "serious_crime", "min_penalty_years": 2})
	not d.allow
	f.has_reason(d, "R-CRIME-SUSPECT: claims.offence.class must be crime_against_child for OSL 10:21, not serious_crime")
	e := sekretess.decision with input as suspect({"section": "10:21", "class": "Kalle Karlsson", "min_penalty_years": 2})
	f.has_reason(e, "R-CRIME-SUSPECT: claims.offence.class must be crime_against_child for OSL 10:21, not (a value the policy does not know, not shown)")
	not f.has_reason(e, "Kalle")
}

test_crime_suspect_undeclared_section_denied if {
	d := sekretess.decision with input as suspect({})
	not d.allow
	f.has_reason(d, "R-CRIME-SUSPECT: claims.offence.section must be one of 10:20, 10:21, 10:22, 10:23, 10:24, not (missing)")
}

# --- R-1015A ----------------------------------------------------------------

crime_purpose(t, extra) := f.msg(
	f.social_services, f.police, "disclosure", t,
	object.union(
		{
			"category": "case_details", "subject": {"pseudonym": "p-9", "age": 25},
			"purpose_code": "prevent_crime",
			"necessity_assessment": {"by": "Enhetschef", "at": "2025-12-01T08:00:00+01:00", "outcome": "needed"},
			"secrecy_weighing": {"by": "Enhetschef", "at": "2025-12-01T08:00:00+01:00", "outcome": "secrecy_does_not_prevail"},
		},
		extra,
	),
)

test_1015a_from_2025_12_01 if {
	d := sekretess.decision with input as crime_purpose("2025-12-01T09:00:00+01:00", {})
	d.allow
	d.rule == "R-1015A"
	d.basis == "OSL 10 kap. 15 a § första stycket 1"
}

# The five purposes of the first paragraph, each cited by its point.
test_1015a_purposes_1_to_5 if {
	every code, point in {"investigate_crime": 2, "prevent_wrong_payment": 3, "detect_wrong_payment": 4, "cheating_or_rule_breach": 5} {
		d := sekretess.decision with input as crime_purpose(f.t, {"purpose_code": code})
		d.allow
		d.rule == "R-1015A"
		d.basis == sprintf("OSL 10 kap. 15 a § första stycket %d", [point])
	}
}

# Andra stycket: not when overriding reasons favour secrecy; the weighing is
# a documented judgement.
test_1015a_needs_the_weighing if {
	d := sekretess.decision with input as json.remove(crime_purpose(f.t, {}), ["claims/secrecy_weighing"])
	not d.allow
	f.has_reason(d, "R-1015A: documented weighing that no overriding reasons (övervägande skäl) favour the secrecy, OSL 10 kap. 15 a § andra stycket (claims.secrecy_weighing) is missing")
	w := sekretess.decision with input as crime_purpose(f.t, {"secrecy_weighing": {"by": "E", "at": "2025-12-01T08:00:00+01:00", "outcome": "secrecy_prevails"}})
	not w.allow
	f.has_reason(w, "outcome is not \"secrecy_does_not_prevail\"")
}

# Tredje stycket: health secrecy (25 kap.) is excluded; FU secrecy (18 kap.)
# is outside 21-40 kap.
test_1015a_excluded_secrecy if {
	h := sekretess.decision with input as object.union(crime_purpose(f.t, {"category": "health"}), {"sender": f.municipal_school})
	not h.allow
	f.has_reason(h, "R-1015A: health data is under OSL 25 kap. 1-5 och 8 §§")
	fu := sekretess.decision with input as object.union(crime_purpose(f.t, {"category": "preliminary_investigation"}), {"sender": f.police, "recipient": f.social_services})
	f.has_reason(fu, "R-1015A: data from a preliminary investigation is under OSL 18 kap.")
}

test_1015a_to_security_police_and_customs if {
	every p in [sapo, tull] {
		d := sekretess.decision with input as object.union(crime_purpose(f.t, {"category": "risk_environment"}), {"recipient": p})
		d.allow
	}
}

test_1015a_before_2025_12_01_denied if {
	i := crime_purpose("2025-11-30T23:59:00+01:00", {"necessity_assessment": {"by": "E", "at": "2025-11-30T08:00:00+01:00", "outcome": "needed"}})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-1015A: not in force at the message's time 2025-11-30T23:59:00+01:00: in force from 2025-12-01")
}

test_1015a_not_for_followup_results if {
	d := sekretess.decision with input as crime_purpose(f.t, {"category": "followup_results"})
	not d.allow
	f.has_reason(d, "R-1015A: individual follow-up of interventions is not covered (it has no legal basis yet, 2026 terms of reference on follow-up)")
}

test_1015a_followup_purpose_denied if {
	d := sekretess.decision with input as crime_purpose(f.t, {"purpose_code": "followup"})
	not d.allow
	f.has_reason(d, "R-1015A: claims.purpose_code followup is not a purpose of OSL 10 kap. 15 a § första stycket 1-5")
}

# The reason names the field the rule reads (claims.purpose_code), not the
# free-text claims.purpose.
test_1015a_reason_names_purpose_code if {
	i := json.remove(crime_purpose(f.t, {"purpose": "förebygga brott"}), ["claims/purpose_code"])
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-1015A: claims.purpose_code is missing: ")
	not f.has_reason(d, "purpose null")
	not f.has_reason(d, "förebygga brott")
}

test_1015a_not_independent_school if {
	i := object.union(crime_purpose(f.t, {}), {"recipient": f.independent_school})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-1015A: recipient is not an authority under OSL")
}

test_1015a_missing_necessity_denied if {
	i := json.remove(crime_purpose(f.t, {}), ["claims/necessity_assessment"])
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-1015A: assessment that the data is needed for that purpose (claims.necessity_assessment) is missing")
}

# --- R-GENERAL --------------------------------------------------------------

general(sender, recipient, extra) := f.msg(
	sender, recipient, "disclosure", f.t,
	object.union({"category": "pupil_welfare", "subject": {"pseudonym": "p-2", "age": 12}, "general_clause_weighing": f.judgement("manifestly_outweighs")}, extra),
)

test_general_clause_school_to_social_services_q13 if {
	d := sekretess.decision with input as general(f.municipal_school, f.social_services, {})
	d.allow
	d.rule == "R-GENERAL"
	d.basis == "OSL 10 kap. 27 §"
}

test_general_clause_without_weighing_denied if {
	d := sekretess.decision with input as general(f.municipal_school, f.social_services, {"general_clause_weighing": null})
	not d.allow
	f.has_reason(d, "R-GENERAL: documented weighing (claims.general_clause_weighing) is missing")
}

test_general_clause_never_health if {
	d := sekretess.decision with input as general(f.municipal_school, f.social_services, {"category": "health"})
	not d.allow
	f.has_reason(d, "R-GENERAL: never for health secrecy")
}

# Q14: social services' case data stays under social services secrecy in
# whichever authority's hands; 10:27 never lets it go.
test_general_clause_never_social_services_data_q14 if {
	every cat in ["case_details", "investigation_status"] {
		d := sekretess.decision with input as general(f.municipal_school, f.police, {"category": cat})
		not d.allow
		f.has_reason(d, sprintf("R-GENERAL: never for social services secrecy: %v is social services' data", [cat]))
	}
}

# Individual follow-up has no legal basis yet (the 2026 terms of reference); relabelling it a disclosure
# does not find one.
test_general_clause_not_for_followup if {
	d := sekretess.decision with input as general(f.municipal_school, f.social_services, {"category": "followup_results"})
	not d.allow
	f.has_reason(d, "R-GENERAL: individual follow-up of interventions has no legal basis")
}

# Q1: the police give a school data under the general clause too only
# exceptionally, after a documented case-by-case assessment.
test_general_clause_police_to_school_only_exceptionally_q1 if {
	d := sekretess.decision with input as general(f.police, f.municipal_school, {})
	not d.allow
	f.has_reason(d, "R-GENERAL: police to a school only exceptionally (Q1): documented case-by-case assessment marked exceptional (claims.exceptional_assessment) is missing")
	d2 := sekretess.decision with input as general(f.police, f.municipal_school, {"exceptional_assessment": f.judgement("exceptional_disclosure")})
	d2.allow
	d2.rule == "R-GENERAL"
}

test_general_clause_not_independent_school if {
	d := sekretess.decision with input as general(f.independent_school, f.social_services, {})
	not d.allow
	f.has_reason(d, "R-GENERAL: sender is not an authority under OSL")
}

# --- R-FU -------------------------------------------------------------------

fu_answer(extra) := f.reply(
	f.police, f.social_services, "response", f.t,
	object.union(
		{
			"category": "preliminary_investigation", "subject": {"pseudonym": "p-3", "age": 13},
			"fu": {
				"concern_report_made": true,
				"relevance_assessment": {"by": "Förundersökningsledare", "at": "2026-01-14T10:00:00+01:00", "outcome": "relevant"},
			},
		},
		extra,
	),
	f.request_record(f.social_services, f.police, "R-FU", "preliminary_investigation"),
)

test_fu_with_concern_report_and_request_q15 if {
	d := sekretess.decision with input as fu_answer({})
	d.allow
	d.rule == "R-FU"
	d.obligations == ["fu-secrecy: do not forward"]
	d.basis == "SoL (2025:400) 20 kap. 6 §; OSL 18 kap. 1 och 3 §§"
}

test_fu_basis_old_sol_before_2025_07_01 if {
	i := json.patch(fu_answer({"fu": {"concern_report_made": true, "relevance_assessment": {"by": "F", "at": "2025-06-01T10:00:00+02:00", "outcome": "relevant"}}}), [{"op": "replace", "path": "/message/created_at", "value": "2025-06-30T23:59:59+02:00"}])
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FU"
	d.basis == "SoL (2001:453) 14 kap. 1 § tredje stycket; OSL 18 kap. 1 och 3 §§"
	on := sekretess.decision with input as json.patch(i, [{"op": "replace", "path": "/message/created_at", "value": "2025-07-01T00:00:00+02:00"}])
	on.basis == "SoL (2025:400) 20 kap. 6 §; OSL 18 kap. 1 och 3 §§"
}

test_fu_without_concern_report_needs_case_assessment if {
	d := sekretess.decision with input as fu_answer({"fu": {"concern_report_made": false}})
	not d.allow
	f.has_reason(d, "R-FU: path A (SoL): a report of concern was not made")
	f.has_reason(d, "R-FU: path B (case by case): case-by-case assessment that the data does not harm the investigation (claims.fu.case_assessment) is missing")
}

test_fu_case_by_case_path_b if {
	i := f.msg(f.police, f.social_services, "disclosure", f.t, {
		"category": "preliminary_investigation",
		"fu": {"case_assessment": {"by": "FU-ledare", "at": "2026-01-14T10:00:00+01:00", "outcome": "no_harm"}},
	})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FU"
	d.basis == "OSL 18 kap. 1 § första stycket (uppgiften kan röjas utan skada för förundersökningen, prövning i det enskilda fallet)"
	d.obligations == ["fu-secrecy: do not forward"]
}

test_fu_request_from_social_services if {
	i := f.msg(f.social_services, f.police, "request", f.t, {"category": "preliminary_investigation", "fu": {"concern_report_made": true}})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FU"
}

# The request carries no FU data: the do-not-forward obligation belongs only
# to the police's response or disclosure.
test_fu_request_has_no_obligations if {
	i := f.msg(f.social_services, f.police, "request", f.t, {"category": "preliminary_investigation", "fu": {"concern_report_made": true}})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FU"
	d.obligations == []
}

test_fu_data_must_not_be_forwarded_q15 if {
	i := object.union(
		f.msg(f.social_services, f.municipal_school, "disclosure", f.t, {
			"category": "pupil_welfare", "forwarded_from": ["11111111111111111111111111111111"],
			"general_clause_weighing": f.judgement("manifestly_outweighs"),
		}),
		{"sources": [{"id": "11111111111111111111111111111111", "rule": "R-FU", "obligations": ["fu-secrecy: do not forward"], "recipient": f.social_services.id}]},
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "secrecy travels with data: message 11111111111111111111111111111111 was received under R-FU")
}

# Q15: preliminary-investigation data stays under FU secrecy whichever rule
# let it out, so the obligation comes with it under the general clause too
# (10 kap. 15 a § does not reach it: FU secrecy is 18 kap.), and a
# forward of it is refused.
test_fu_data_under_other_rules_keeps_its_secrecy_q15 if {
	i := f.msg(f.police, f.social_services, "disclosure", f.t, {
		"category": "preliminary_investigation", "subject": {"pseudonym": "p-3", "age": 13},
		"general_clause_weighing": f.judgement("manifestly_outweighs"),
	})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-GENERAL"
	d.obligations == ["fu-secrecy: do not forward"]
	fwd := object.union(
		f.msg(f.social_services, f.municipal_school, "disclosure", f.t, {
			"category": "preliminary_investigation", "subject": {"pseudonym": "p-3", "age": 13},
			"purpose_code": "prevent_crime", "necessity_assessment": f.judgement("needed"),
			"forwarded_from": ["11111111111111111111111111111111"],
		}),
		{"sources": [{"id": "11111111111111111111111111111111", "rule": d.rule, "obligations": d.obligations, "recipient": f.social_services.id}]},
	)
	d2 := sekretess.decision with input as fwd
	not d2.allow
	f.has_reason(d2, "secrecy travels with data: message 11111111111111111111111111111111 was received under R-GENERAL with obligation \"fu-secrecy: do not forward\" and must not be passed on (OSL 18 kap. 1 och 3 §§)")
}

# Data received under a consent is not passed on: the consent covered only
# the disclosure to its recipient.
test_consent_data_not_forwarded if {
	i := object.union(
		general(f.municipal_school, f.police, {"forwarded_from": ["11111111111111111111111111111111"]}),
		{"sources": [{"id": "11111111111111111111111111111111", "rule": "R-CONSENT", "obligations": ["within-consent-scope"], "recipient": f.municipal_school.id}]},
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "with obligation \"within-consent-scope\" and must not be passed on (the consent covers only its own disclosure, OSL 12 kap. 2-3 §§)")
}

# A forward of a message the broker has no record of is refused, whether the
# broker leaves it out of input.sources or marks it unknown; so is a
# forwarded_from that is not a list of message ids.
test_forward_of_unknown_message_refused if {
	base := general(f.municipal_school, f.social_services, {"forwarded_from": ["22222222222222222222222222222222"]})
	every i in [base, object.union(base, {"sources": [{"id": "22222222222222222222222222222222", "known": false}]})] {
		d := sekretess.decision with input as i
		not d.allow
		f.has_reason(d, "claims.forwarded_from names 1 message(s) the broker has no record of")
		not f.has_reason(d, "22222222222222222222222222222222")
	}
	every bad in ["22222222222222222222222222222222", [7], [""]] {
		d := sekretess.decision with input as general(f.municipal_school, f.social_services, {"forwarded_from": bad})
		not d.allow
		f.has_reason(d, "claims.forwarded_from must be a list of message ids")
	}
}

# Q15: whoever received preliminary-investigation data keeps it; no consent,
# de-identification or other rule lets it go on, except back to the police.
test_fu_data_passed_on_by_others_refused_q15 if {
	c := object.union(f.valid_consent([f.municipal_school.id], ["preliminary_investigation"]), {"subject": {"pseudonym": "p-1", "birth_date": "2011-05-05"}})
	under_consent := object.union(
		f.msg(f.social_services, f.municipal_school, "disclosure", f.t, {"category": "preliminary_investigation", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"}}),
		{"consent": c},
	)
	d := sekretess.decision with input as under_consent
	not d.allow
	f.has_reason(d, "data from a preliminary investigation stays under förundersökningssekretess wherever it is and is passed on by no one but the police")
	deidentified := f.msg(f.social_services, f.municipal_school, "consultation", f.t, {"category": "preliminary_investigation", "deidentified": true, "subject": {"age": 13}})
	d2 := sekretess.decision with input as deidentified
	not d2.allow
	f.has_reason(d2, "R-DEIDENTIFIED: de-identifying does not lift förundersökningssekretess")
}

test_fu_forwarding_blocked_even_with_consent if {
	c := object.union(f.valid_consent([f.municipal_school.id], ["case_details"]), {"subject": {"pseudonym": "p-1", "birth_date": "2011-05-05"}})
	i := object.union(
		f.msg(f.social_services, f.municipal_school, "disclosure", f.t, {
			"category": "case_details", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"},
			"forwarded_from": ["11111111111111111111111111111111"],
		}),
		{
			"consent": c,
			"sources": [{"id": "11111111111111111111111111111111", "rule": "R-FU", "obligations": ["fu-secrecy: do not forward"], "recipient": f.social_services.id}],
		},
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "secrecy travels with data")

	# without the FU source the same message is allowed under R-CONSENT
	d2 := sekretess.decision with input as json.remove(i, ["sources", "claims/forwarded_from"])
	d2.allow
	d2.rule == "R-CONSENT"
}

# --- R-POLICE-SCHOOL --------------------------------------------------------

police_to_school(extra) := f.msg(
	f.police, f.municipal_school, "disclosure", f.t,
	object.union({"category": "risk_environment", "subject": {"pseudonym": "p-4", "age": 14}}, extra),
)

# The basis names the provision that permits the police to disclose (OSL
# 10 kap. 2 §), not the secrecy that protects the data; it holds for an
# independent school too, which the general clause (10 kap. 27 §) cannot reach.
test_police_school_exceptional_q1 if {
	d := sekretess.decision with input as police_to_school({"exceptional_assessment": f.judgement("exceptional_disclosure")})
	d.allow
	d.rule == "R-POLICE-SCHOOL"
	d.basis == "OSL 10 kap. 2 §"
}

test_police_school_independent_school_under_10_2 if {
	i := object.union(police_to_school({"exceptional_assessment": f.judgement("exceptional_disclosure")}), {"recipient": f.independent_school})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-POLICE-SCHOOL"
	d.basis == "OSL 10 kap. 2 §"
	g := sekretess.decision with input as json.remove(i, ["claims/exceptional_assessment"])
	f.has_reason(g, "R-GENERAL: recipient is not an authority under OSL")
}

test_police_school_not_security_police if {
	i := object.union(police_to_school({"exceptional_assessment": f.judgement("exceptional_disclosure")}), {"sender": f.security_police})
	d := sekretess.decision with input as i
	f.has_reason(d, "R-POLICE-SCHOOL: sender is not Polismyndigheten")
}

test_police_school_no_assessment_denied_q1 if {
	d := sekretess.decision with input as police_to_school({})
	not d.allow
	f.has_reason(d, "R-POLICE-SCHOOL: documented case-by-case assessment that the disclosure is necessary for the police's work and exceptional (claims.exceptional_assessment) is missing")
}

test_police_school_assessment_not_exceptional_denied if {
	d := sekretess.decision with input as police_to_school({"exceptional_assessment": f.judgement("routine")})
	not d.allow
	f.has_reason(d, "outcome is not \"exceptional_disclosure\"")
	not f.has_reason(d, "routine")
}

test_police_school_assessment_after_message_denied if {
	late := {"by": "Kommissarie", "at": "2026-01-16T10:00:00+01:00", "outcome": "exceptional_disclosure"}
	d := sekretess.decision with input as police_to_school({"exceptional_assessment": late})
	not d.allow
	f.has_reason(d, "has no valid time (at) at or before the message")
}

# --- R-CONFISCATION ---------------------------------------------------------

confiscation(extra) := f.msg(
	f.municipal_school, f.police, "report", f.t,
	object.union({"category": "confiscation", "sender_role": "rector", "confiscation": {"item": "knife", "at": "2026-01-15T08:30:00+01:00"}}, extra),
)

test_confiscation_knife_q3 if {
	d := sekretess.decision with input as confiscation({})
	d.allow
	d.rule == "R-CONFISCATION"
	d.basis == "skollagen (2010:800) 5 kap. 23 § andra stycket"
}

# From 2025-07-01 (SFS 2025:625) an item taken at a search of a pupil's
# belongings is reported under skollagen 6 a kap. 8 § andra stycket; there
# were no such searches before.
test_confiscation_after_search_from_2025_07_01 if {
	d := sekretess.decision with input as confiscation({"confiscation": {"search": true}})
	d.allow
	d.rule == "R-CONFISCATION"
	d.basis == "skollagen (2010:800) 6 a kap. 8 § andra stycket"
	i := json.patch(confiscation({"confiscation": {"search": true, "at": "2025-06-30T08:30:00+02:00"}}), [{"op": "replace", "path": "/message/created_at", "value": "2025-06-30T10:00:00+02:00"}])
	before := sekretess.decision with input as i
	not before.allow
	f.has_reason(before, "R-CONFISCATION: claims.confiscation.search: searches of pupils' belongings under skollagen 6 a kap. 5 § exist only from 2025-07-01")
	on := sekretess.decision with input as json.patch(i, [{"op": "replace", "path": "/message/created_at", "value": "2025-07-01T00:00:00+02:00"}])
	on.allow
	on.basis == "skollagen (2010:800) 6 a kap. 8 § andra stycket"
}

test_confiscation_delegate_spray_paint if {
	d := sekretess.decision with input as confiscation({"sender_role": "rector_delegate", "confiscation": {"item": "spray_paint"}})
	d.allow
}

test_confiscation_unknown_item_denied if {
	d := sekretess.decision with input as confiscation({"confiscation": {"item": "mobile_phone"}})
	not d.allow
	f.has_reason(d, "R-CONFISCATION: claims.confiscation.item must be knife, weapon, spray_paint, crime_tool or other, not (a value the policy does not know, not shown)")
	not f.has_reason(d, "mobile_phone")
}

# Q3 lists items "bland annat": another item is reported with its ground.
test_confiscation_other_item_with_ground_q3 if {
	d := sekretess.decision with input as confiscation({"confiscation": {"item": "other"}})
	not d.allow
	f.has_reason(d, "R-CONFISCATION: an item other than a knife, weapon, spray paint or crime tool needs the ground")
	d2 := sekretess.decision with input as confiscation({"confiscation": {"item": "other", "ground": "narkotika i elevens skåp"}})
	d2.allow
	d2.rule == "R-CONFISCATION"
}

test_confiscation_missing_time_denied if {
	d := sekretess.decision with input as json.remove(confiscation({}), ["claims/confiscation/at"])
	not d.allow
	f.has_reason(d, "R-CONFISCATION: claims.confiscation.at is not a valid time")
}
