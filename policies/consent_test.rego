package sekretess_test.consent

import data.sekretess
import data.sekretess_test.fixtures as f

base_claims := {"category": "pupil_welfare", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"}}

with_consent(t, c) := object.union(
	f.msg(f.municipal_school, f.social_services, "disclosure", t, base_claims),
	{"consent": c},
)

good := f.valid_consent([f.social_services.id], ["pupil_welfare"])

test_consent_guardian_oral_documented_q17 if {
	d := sekretess.decision with input as with_consent(f.t, good)
	d.allow
	d.rule == "R-CONSENT"
	d.basis == "OSL 12 kap. 2-3 §§"
	d.obligations == ["within-consent-scope"]
}

test_consent_absent_denied if {
	d := sekretess.decision with input as f.msg(f.municipal_school, f.social_services, "disclosure", f.t, base_claims)
	not d.allow
	"R-CONSENT: no consent record resolved by the broker for this message (input.consent)" in d.reasons
}

test_consent_general_waiver_invalid_q17 if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"categories": ["*"]}))
	not d.allow
	f.has_reason(d, "R-CONSENT: a general waiver is not a valid consent (Q17)")
	d2 := sekretess.decision with input as with_consent(f.t, object.union(good, {"general": true}))
	not d2.allow
	f.has_reason(d2, "R-CONSENT: a general waiver")
}

test_consent_oral_undocumented_invalid_q17 if {
	d := sekretess.decision with input as with_consent(f.t, json.remove(good, ["documented"]))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent is not documented")
}

test_consent_wrong_recipient_denied if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"recipients": [f.police.id]}))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent does not name the recipient soc-malmo")
}

test_consent_other_category_denied if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"categories": ["grades"]}))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent does not cover data category pupil_welfare")
}

test_consent_other_purpose_denied if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"purpose": "annat"}))
	not d.allow
	f.has_reason(d, "is not the purpose consented to")
}

test_consent_withdrawn_before_decision_q18 if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T09:59:59+01:00"}))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent was withdrawn at 2026-01-15T09:59:59+01:00, before the message (Q18)")
}

test_consent_withdrawn_after_decision_still_valid_q18 if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T10:00:01+01:00"}))
	d.allow
	d.rule == "R-CONSENT"
}

# The broker decides after the message was created (input.decided_at): a
# withdrawal between the two stops the message.
test_consent_withdrawn_after_message_before_decision_q18 if {
	i := object.union(
		with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T10:03:00+01:00"})),
		{"decided_at": "2026-01-15T10:05:00+01:00"},
	)
	d := sekretess.decision with input as i
	not d.allow
	"R-CONSENT: consent was withdrawn at 2026-01-15T10:03:00+01:00, before the message was decided at 2026-01-15T10:05:00+01:00 (Q18)" in d.reasons
}

test_consent_withdrawn_at_decision_time_q18 if {
	i := object.union(
		with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T10:05:00+01:00"})),
		{"decided_at": "2026-01-15T09:05:00Z"},
	)
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-CONSENT: consent was withdrawn at 2026-01-15T10:05:00+01:00, before the message was decided at 2026-01-15T09:05:00Z (Q18)")
}

test_consent_withdrawn_after_decision_time_still_valid_q18 if {
	i := object.union(
		with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T10:05:00.000000001+01:00"})),
		{"decided_at": "2026-01-15T10:05:00+01:00"},
	)
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-CONSENT"
}

test_consent_withdrawn_before_message_reason_unchanged_with_decided_at_q18 if {
	i := object.union(
		with_consent(f.t, object.union(good, {"withdrawn_at": "2026-01-15T09:59:59+01:00"})),
		{"decided_at": "2026-01-15T10:05:00+01:00"},
	)
	d := sekretess.decision with input as i
	not d.allow
	"R-CONSENT: consent was withdrawn at 2026-01-15T09:59:59+01:00, before the message (Q18)" in d.reasons
	not f.has_reason(d, "before the message was decided")
}

test_consent_malformed_decided_at_denied if {
	i := object.union(with_consent(f.t, good), {"decided_at": "15 januari"})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-CONSENT: decided_at is not a valid time")
}

# Other times stay on the message's own time: a consent given after the
# message was created does not count even if it was given before the decision.
test_consent_given_after_message_before_decision_does_not_count if {
	c := object.union(good, {"given_by": [{"role": "guardian", "at": "2026-01-15T10:02:00+01:00"}]})
	i := object.union(with_consent(f.t, c), {"decided_at": "2026-01-15T10:05:00+01:00"})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "0 of 1 given")
}

test_consent_expired_denied if {
	d := sekretess.decision with input as with_consent("2026-12-02T10:00:00+01:00", good)
	not d.allow
	f.has_reason(d, "R-CONSENT: consent had expired")
}

test_consent_not_yet_valid_denied if {
	d := sekretess.decision with input as with_consent("2025-11-30T10:00:00+01:00", object.union(good, {"documented": {"at": "2025-11-01T00:00:00+01:00"}, "given_by": [{"role": "guardian", "at": "2025-11-01T00:00:00+01:00"}]}))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent is not yet valid")
}

test_consent_child_16_without_child_consent_where_required_q16 if {
	c := object.union(good, {"subject": {"pseudonym": "p-1", "birth_date": "2009-06-01"}, "maturity_assessment": f.judgement("child_consent_required")})
	d := sekretess.decision with input as with_consent(f.t, c)
	not d.allow
	f.has_reason(d, "R-CONSENT: the child's own consent is required given age and maturity but was not given (Q16)")
	c2 := object.union(c, {"given_by": [{"role": "guardian", "at": "2025-12-01T09:00:00+01:00"}, {"role": "child", "at": "2025-12-01T09:10:00+01:00"}]})
	d2 := sekretess.decision with input as with_consent(f.t, c2)
	d2.allow
}

test_consent_maturity_judgement_missing_q16 if {
	d := sekretess.decision with input as with_consent(f.t, json.remove(good, ["maturity_assessment"]))
	not d.allow
	f.has_reason(d, "R-CONSENT: the maturity judgement (consent.maturity_assessment: whether the child's own consent is needed, Q16) is missing")
}

# The judgement is the official's, documented: a bare yes or no, an unknown
# outcome or one without who made it does not do.
test_consent_maturity_judgement_undocumented_q16 if {
	bare := sekretess.decision with input as with_consent(f.t, object.union(good, {"maturity_assessment": false}))
	not bare.allow
	anonymous := sekretess.decision with input as with_consent(f.t, json.remove(good, ["maturity_assessment/by"]))
	not anonymous.allow
	f.has_reason(anonymous, "R-CONSENT: the maturity judgement (consent.maturity_assessment: whether the child's own consent is needed, Q16) does not say who made it (by)")
	odd := sekretess.decision with input as with_consent(f.t, object.union(good, {"maturity_assessment": f.judgement("mature")}))
	not odd.allow
	f.has_reason(odd, `outcome is not "child_consent_required or child_consent_not_required"`)
	not f.has_reason(odd, "mature")
}

test_consent_guardian_count_missing_denied_q16 if {
	d := sekretess.decision with input as with_consent(f.t, json.remove(good, ["guardian_count"]))
	not d.allow
	f.has_reason(d, "R-CONSENT: consent.guardian_count is missing")
}

test_consent_malformed_valid_until_denied if {
	every v in ["2026-13-01", 20261201] {
		d := sekretess.decision with input as with_consent(f.t, object.union(good, {"valid_until": v}))
		not d.allow
		f.has_reason(d, "R-CONSENT: consent.valid_until is not a valid time")
	}
}

test_consent_negative_age_is_no_age if {
	c := object.union(json.remove(good, ["subject/birth_date"]), {"subject": {"age": -1}})
	d := sekretess.decision with input as with_consent(f.t, c)
	not d.allow
	f.has_reason(d, "R-CONSENT: the subject's age is unknown")
}

test_consent_both_guardians_needed_q16 if {
	d := sekretess.decision with input as with_consent(f.t, object.union(good, {"guardian_count": 2}))
	not d.allow
	f.has_reason(d, "R-CONSENT: a child under 18 needs the guardians' consent: 1 of 2 given")
}

test_consent_two_identical_guardian_entries_are_two_consents_q16 if {
	# Two guardians' entries with the same role and time (and no other
	# field) are still two consents: 2 of 2, not 1 of 2.
	c := object.union(good, {
		"guardian_count": 2,
		"given_by": [
			{"role": "guardian", "at": "2025-12-01T09:00:00+01:00"},
			{"role": "guardian", "at": "2025-12-01T09:00:00+01:00"},
		],
	})
	d := sekretess.decision with input as with_consent(f.t, c)
	d.allow
	d.rule == "R-CONSENT"

	# three needed, two given
	d2 := sekretess.decision with input as with_consent(f.t, object.union(c, {"guardian_count": 3}))
	not d2.allow
	f.has_reason(d2, "R-CONSENT: a child under 18 needs the guardians' consent: 2 of 3 given")
}

test_consent_person_18_alone_q16 if {
	c := object.union(good, {
		"subject": {"pseudonym": "p-1", "birth_date": "2007-01-15"},
		"given_by": [{"role": "person", "at": "2025-12-01T09:00:00+01:00"}],
	})
	d := sekretess.decision with input as with_consent(f.t, c)
	d.allow
	d.rule == "R-CONSENT"
}

test_consent_guardian_cannot_consent_for_adult_q16 if {
	c := object.union(good, {"subject": {"pseudonym": "p-1", "birth_date": "2007-01-15"}})
	d := sekretess.decision with input as with_consent(f.t, c)
	not d.allow
	f.has_reason(d, "R-CONSENT: from 18 the person consents alone")
}

# A child who consented alone without the documented judgement is told that
# the judgement is the way forward, not only that the guardians are missing.
test_consent_child_alone_needs_child_alone_assessment_q16 if {
	c := object.union(good, {
		"subject": {"pseudonym": "p-1", "birth_date": "2009-06-01"},
		"given_by": [{"role": "child", "at": "2025-12-01T09:00:00+01:00"}],
	})
	d := sekretess.decision with input as with_consent(f.t, c)
	not d.allow
	f.has_reason(d, "R-CONSENT: the child consented alone, which counts only after a documented judgement that the child may consent alone (consent.child_alone_assessment, outcome may_consent_alone, Q16); otherwise a child under 18 needs the guardians' consent: 0 of 1 given")
	bad := object.union(c, {"child_alone_assessment": {"by": "Kurator", "at": "2025-12-01T08:00:00+01:00", "outcome": "guardians_needed"}})
	d2 := sekretess.decision with input as with_consent(f.t, bad)
	not d2.allow
	f.has_reason(d2, "R-CONSENT: the judgement that the child may consent alone (consent.child_alone_assessment, Q16) outcome is not \"may_consent_alone\"")
}

test_consent_child_alone_after_assessment_q16 if {
	c := object.union(good, {
		"subject": {"pseudonym": "p-1", "birth_date": "2009-06-01"},
		"given_by": [{"role": "child", "at": "2025-12-01T09:00:00+01:00"}],
		"child_alone_assessment": {"by": "Kurator", "at": "2025-12-01T08:00:00+01:00", "outcome": "may_consent_alone"},
	})
	d := sekretess.decision with input as with_consent(f.t, c)
	d.allow
}

test_consent_given_after_message_does_not_count if {
	c := object.union(good, {"given_by": [{"role": "guardian", "at": "2026-01-15T10:30:00+01:00"}]})
	d := sekretess.decision with input as with_consent(f.t, c)
	not d.allow
	f.has_reason(d, "0 of 1 given")
}

test_consent_other_subject_denied if {
	i := object.union(with_consent(f.t, good), {"claims": {"subject": {"pseudonym": "p-2"}}})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-CONSENT: consent is for another subject")
}

test_consent_feedback_beyond_status_q9 if {
	c := f.valid_consent([f.municipal_school.id], ["case_details"])
	i := object.union(
		f.reply(f.social_services, f.municipal_school, "feedback", f.t, {"category": "case_details", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"}}, f.concern_record(f.municipal_school, f.social_services)),
		{"consent": c},
	)
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-CONSENT"
}

# --- R-JOINT-MEETING --------------------------------------------------------

meeting(c) := object.union(
	f.msg(f.social_services, f.municipal_school, "meeting", f.t, {
		"category": "case_details", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"},
		"meeting": {"participants": [f.social_services.id, f.municipal_school.id, f.police.id], "at": "2026-01-20T13:00:00+01:00"},
	}),
	{"consent": c},
)

test_joint_meeting_consent_covers_all_q10 if {
	d := sekretess.decision with input as meeting(f.valid_consent([f.municipal_school.id, f.police.id], ["case_details"]))
	d.allow
	d.rule == "R-JOINT-MEETING"
	d.basis == "OSL 12 kap. 2-3 §§"
}

test_joint_meeting_police_not_covered_denied if {
	d := sekretess.decision with input as meeting(f.valid_consent([f.municipal_school.id], ["case_details"]))
	not d.allow
	f.has_reason(d, "R-JOINT-MEETING: consent does not cover 1 of the participants (claims.meeting.participants)")
	not f.has_reason(d, "polisen-syd")
}

test_joint_meeting_without_consent_denied if {
	d := sekretess.decision with input as json.remove(meeting({}), ["consent"])
	not d.allow
	f.has_reason(d, "R-JOINT-MEETING: no consent record resolved")
}

test_joint_meeting_recipient_not_participant if {
	i := object.union(meeting(f.valid_consent([f.municipal_school.id, f.police.id], ["case_details"])), {"claims": {"meeting": {"participants": [f.social_services.id, f.police.id]}}})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-JOINT-MEETING: recipient is not a listed participant")
}

# --- R-DEIDENTIFIED ---------------------------------------------------------

consult(extra) := f.msg(
	f.municipal_school, f.police, "consultation", f.t,
	object.union({"category": "risk_environment", "deidentified": true, "subject": {"age": 14}}, extra),
)

test_deidentified_consultation_q2 if {
	d := sekretess.decision with input as consult({})
	d.allow
	d.rule == "R-DEIDENTIFIED"
	d.obligations == ["no-identifying-data"]
}

test_deidentified_with_pseudonym_denied if {
	d := sekretess.decision with input as consult({"subject": {"pseudonym": "p-1"}})
	not d.allow
	f.has_reason(d, "R-DEIDENTIFIED: identifying field claims.subject.pseudonym is present")
}

test_deidentified_unmarked_denied if {
	d := sekretess.decision with input as consult({"deidentified": false})
	not d.allow
	f.has_reason(d, "R-DEIDENTIFIED: not marked de-identified")
}

test_deidentified_social_services_to_police_q3 if {
	i := f.msg(f.social_services, f.police, "consultation", "2024-05-01T10:00:00+02:00", {"category": "case_details", "deidentified": true})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-DEIDENTIFIED"
}

# --- R-FOLLOWUP -------------------------------------------------------------

followup(extra) := f.msg(f.municipal_school, f.social_services, "followup", f.t, object.union({"category": "followup_results", "subject": {"pseudonym": "p-1"}}, extra))

test_followup_individual_denied_no_basis if {
	d := sekretess.decision with input as followup({})
	not d.allow
	f.has_reason(d, "R-FOLLOWUP: individual-level follow-up has no legal basis today")
	f.has_reason(d, "R-CONSENT: no consent record resolved")
}

test_followup_aggregate_allowed if {
	i := f.msg(f.social_services, f.municipal_school, "followup", f.t, {"category": "aggregate_statistics", "aggregate": true})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-FOLLOWUP"
	d.obligations == ["aggregate-only"]
}

test_followup_aggregate_with_subject_denied if {
	i := f.msg(f.social_services, f.municipal_school, "followup", f.t, {"category": "aggregate_statistics", "aggregate": true, "subject": {"pseudonym": "p-1"}})
	d := sekretess.decision with input as i
	not d.allow
}

test_followup_with_consent_allowed if {
	i := object.union(followup({"purpose": "samordnat stöd"}), {"consent": f.valid_consent([f.social_services.id], ["followup_results"])})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-CONSENT"
}

test_followup_deidentified_allowed if {
	i := f.msg(f.municipal_school, f.social_services, "followup", f.t, {"category": "followup_results", "deidentified": true, "subject": {"age": 12}})
	d := sekretess.decision with input as i
	d.allow
	d.rule == "R-DEIDENTIFIED"
}

test_followup_not_with_1015a if {
	i := f.msg(f.social_services, f.municipal_school, "followup", f.t, {"category": "followup_results", "purpose_code": "followup"})
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-1015A: message kind is not disclosure or response")
}
