# The duties to give data that came with the statutes of 2025 and 2026:
# R-SCHOOL-CRIME-REPORT (skollagen 6 a kap. 10 §), R-FB-SCHOOL
# (föräldrabalken 6 kap. 20 c §) and R-CHILD-INVESTIGATION (SoL (2001:453)
# 14 kap. 1 § tredje stycket, SoL (2025:400) 20 kap. 6 §). Each date is
# tested on both sides.
package sekretess_test.duties

import data.sekretess
import data.sekretess_test.fixtures as f

at(i, t) := json.patch(i, [{"op": "replace", "path": "/message/created_at", "value": t}])

# --- R-SCHOOL-CRIME-REPORT --------------------------------------------------

crime_report(extra) := f.msg(
	f.municipal_school, f.police, "report", "2025-09-01T10:00:00+02:00",
	object.union(
		{
			"category": "crime_suspicion", "sender_role": "rector",
			"subject": {"pseudonym": "elev-1", "age": 15},
			"school_crime": {
				"school_form": "grundskola", "suspect_is_pupil": true, "in_connection_with_activities": true,
				"overriding_reasons_assessment": {"by": "Rektor Lund", "at": "2025-06-30T09:00:00+02:00", "outcome": "no_overriding_reasons"},
			},
		},
		extra,
	),
)

test_school_crime_report_from_2025_07_01 if {
	d := sekretess.decision with input as crime_report({})
	d.allow
	d.rule == "R-SCHOOL-CRIME-REPORT"
	d.basis == "skollagen (2010:800) 6 a kap. 10 §"
	on := sekretess.decision with input as at(crime_report({}), "2025-07-01T00:00:00+02:00")
	on.allow
	on.rule == "R-SCHOOL-CRIME-REPORT"
	before := sekretess.decision with input as at(crime_report({}), "2025-06-30T23:59:59+02:00")
	not before.allow
	f.has_reason(before, "R-SCHOOL-CRIME-REPORT: not in force at the message's time 2025-06-30T23:59:59+02:00: in force from 2025-07-01")
}

test_school_crime_report_forskoleklass_until_2026_06_30 if {
	i := crime_report({"school_crime": {"school_form": "forskoleklass"}})
	d := sekretess.decision with input as at(i, "2026-06-30T23:59:59+02:00")
	d.allow
	d.rule == "R-SCHOOL-CRIME-REPORT"
	d2 := sekretess.decision with input as at(i, "2026-07-01T00:00:00+02:00")
	not d2.allow
	f.has_reason(d2, "R-SCHOOL-CRIME-REPORT: claims.school_crime.school_form forskoleklass is not a school form skollagen 6 a kap. 10 § lists on the message's date")
	g := sekretess.decision with input as at(crime_report({}), "2026-07-01T00:00:00+02:00")
	g.allow
}

test_school_crime_report_not_for_preschool if {
	d := sekretess.decision with input as crime_report({"school_crime": {"school_form": "forskola"}})
	not d.allow
	f.has_reason(d, "R-SCHOOL-CRIME-REPORT: claims.school_crime.school_form forskola is not a school form")
}

test_school_crime_report_needs_the_rectors_judgement if {
	d := sekretess.decision with input as json.remove(crime_report({}), ["claims/school_crime/overriding_reasons_assessment"])
	not d.allow
	f.has_reason(d, "R-SCHOOL-CRIME-REPORT: the rector's documented judgement that no overriding reasons speak against the report (claims.school_crime.overriding_reasons_assessment) is missing")
}

test_school_crime_report_overriding_reasons_denied if {
	d := sekretess.decision with input as crime_report({"school_crime": {"overriding_reasons_assessment": {"by": "Rektor Lund", "at": "2025-06-30T09:00:00+02:00", "outcome": "overriding_reasons"}}})
	not d.allow
	f.has_reason(d, "outcome is not \"no_overriding_reasons\"")
}

test_school_crime_report_pupil_and_activity if {
	d := sekretess.decision with input as crime_report({"school_crime": {"suspect_is_pupil": false, "in_connection_with_activities": false}})
	not d.allow
	f.has_reason(d, "R-SCHOOL-CRIME-REPORT: the suspect must be a pupil")
	f.has_reason(d, "R-SCHOOL-CRIME-REPORT: the crime must have been committed in connection with the school's activities")
}

test_school_crime_report_rector_or_fritidshem_appointee if {
	teacher := sekretess.decision with input as crime_report({"sender_role": "teacher"})
	not teacher.allow
	f.has_reason(teacher, "R-SCHOOL-CRIME-REPORT: the duty lies with the rector")
	appointee := sekretess.decision with input as crime_report({"sender_role": "huvudman_appointee", "school_crime": {"school_form": "fritidshem"}})
	appointee.allow
	not_fritids := sekretess.decision with input as crime_report({"sender_role": "huvudman_appointee"})
	not not_fritids.allow
}

test_school_crime_report_independent_school if {
	d := sekretess.decision with input as object.union(crime_report({}), {"sender": f.independent_school})
	d.allow
	d.rule == "R-SCHOOL-CRIME-REPORT"
}

test_school_crime_report_only_to_polismyndigheten if {
	d := sekretess.decision with input as object.union(crime_report({}), {"recipient": f.security_police})
	not d.allow
	f.has_reason(d, "R-SCHOOL-CRIME-REPORT: recipient is not Polismyndigheten")
}

# --- R-FB-SCHOOL ------------------------------------------------------------

fb_request(t) := f.msg(f.social_services, f.municipal_school, "request", t, {
	"category": "attendance", "subject": {"pseudonym": "barn-3", "age": 9},
	"purpose": "vårdnadsutredning",
	"custody_case": {"task": "investigation", "matter": "custody"},
})

fb_record := object.union(f.request_record(f.social_services, f.municipal_school, "R-FB-SCHOOL", "attendance"), {"created_at": "2026-01-20T08:00:00+01:00"})

fb_answer(extra) := f.reply(
	f.municipal_school, f.social_services, "response", "2026-01-22T10:00:00+01:00",
	object.union({"category": "attendance", "subject": {"pseudonym": "barn-3", "age": 9}, "sender_role": "teacher"}, extra),
	fb_record,
)

test_fb_school_request_from_2026_01_15 if {
	d := sekretess.decision with input as fb_request("2026-01-15T00:00:00+01:00")
	d.allow
	d.rule == "R-FB-SCHOOL"
	d.basis == "föräldrabalken 6 kap. 20 c §"
	before := sekretess.decision with input as fb_request("2026-01-14T23:59:59+01:00")
	not before.allow
	f.has_reason(before, "R-FB-SCHOOL: not in force at the message's time 2026-01-14T23:59:59+01:00: in force from 2026-01-15")
}

test_fb_school_request_names_the_task if {
	d := sekretess.decision with input as json.remove(fb_request("2026-01-20T10:00:00+01:00"), ["claims/custody_case/task"])
	not d.allow
	f.has_reason(d, "R-FB-SCHOOL: claims.custody_case.task must be information or investigation (föräldrabalken 6 kap. 19 or 20 §), not (missing)")
}

test_fb_school_answer_by_staff if {
	d := sekretess.decision with input as fb_answer({})
	d.allow
	d.rule == "R-FB-SCHOOL"
	d.basis == "föräldrabalken 6 kap. 20 c §"
	indep := sekretess.decision with input as object.union(fb_answer({}), {"sender": f.independent_school, "reply_to": {"recipient": f.independent_school.id}})
	indep.allow
	indep.rule == "R-FB-SCHOOL"
}

test_fb_school_elevhalsa_staff_exempt if {
	d := sekretess.decision with input as fb_answer({"sender_role": "school_nurse"})
	not d.allow
	f.has_reason(d, "R-FB-SCHOOL: the sender's role school_nurse in elevhälsa is exempt from the duty (föräldrabalken 6 kap. 20 c § andra stycket)")
	h := sekretess.decision with input as fb_answer({"category": "health"})
	not h.allow
	f.has_reason(h, "R-FB-SCHOOL: category health is not data held in the school's activity")
}

test_fb_school_answer_needs_the_request if {
	d := sekretess.decision with input as fb_answer({}) with input.reply_to.rule as "R-LUB-REQUEST"
	not d.allow
	f.has_reason(d, "R-FB-SCHOOL: must answer a request social services made to this sender under föräldrabalken 6 kap. 20 c §")
}

# --- R-CHILD-INVESTIGATION --------------------------------------------------

ci_request(to, t) := f.msg(f.social_services, to, "request", t, {
	"category": "attendance", "subject": {"pseudonym": "barn-5", "age": 12},
	"purpose": "barnavårdsutredning",
	"child_investigation": {"decided_at": "2025-06-01T10:00:00+02:00"},
})

ci_answer(from, t, category) := f.reply(
	from, f.social_services, "response", t,
	{"category": category, "subject": {"pseudonym": "barn-5", "age": 12}},
	object.union(f.request_record(f.social_services, from, "R-CHILD-INVESTIGATION", category), {"created_at": "2025-06-02T08:00:00+02:00"}),
)

test_child_investigation_basis_by_date if {
	old := sekretess.decision with input as ci_request(f.municipal_school, "2025-06-30T23:59:59+02:00")
	old.allow
	old.rule == "R-CHILD-INVESTIGATION"
	old.basis == "SoL (2001:453) 14 kap. 1 § tredje stycket"
	new := sekretess.decision with input as ci_request(f.municipal_school, "2025-07-01T00:00:00+02:00")
	new.allow
	new.basis == "SoL (2025:400) 20 kap. 6 §"
}

test_child_investigation_school_and_police_answer if {
	s := sekretess.decision with input as ci_answer(f.independent_school, "2025-09-01T10:00:00+02:00", "attendance")
	s.allow
	s.rule == "R-CHILD-INVESTIGATION"
	s.basis == "SoL (2025:400) 20 kap. 6 §"
	p := sekretess.decision with input as ci_answer(f.police, "2025-09-01T10:00:00+02:00", "risk_environment")
	p.allow
	p.rule == "R-CHILD-INVESTIGATION"
	h := sekretess.decision with input as ci_answer(f.municipal_school, "2025-09-01T10:00:00+02:00", "health")
	h.allow
}

test_child_investigation_customs_from_2026_01_15 if {
	before := sekretess.decision with input as ci_answer(f.customs, "2026-01-14T10:00:00+01:00", "risk_environment")
	not before.allow
	f.has_reason(before, "R-CHILD-INVESTIGATION: the answer goes to social services from an authority or activity obliged to report concern")
	d := sekretess.decision with input as ci_answer(f.customs, "2026-01-15T10:00:00+01:00", "risk_environment")
	d.allow
	d.rule == "R-CHILD-INVESTIGATION"
}

test_child_investigation_needs_the_decision_to_investigate if {
	d := sekretess.decision with input as json.remove(ci_request(f.municipal_school, "2025-09-01T10:00:00+02:00"), ["claims/child_investigation"])
	not d.allow
	f.has_reason(d, "R-CHILD-INVESTIGATION: social services' decision to investigate the child's need of protection or support has no valid time at or before the message (claims.child_investigation.decided_at)")
}

test_child_investigation_children_only if {
	d := sekretess.decision with input as ci_request(f.municipal_school, "2025-09-01T10:00:00+02:00") with input.claims.subject.age as 18
	not d.allow
	f.has_reason(d, "R-CHILD-INVESTIGATION: subject is 18 or older")
}

test_child_investigation_answer_needs_the_request if {
	i := json.remove(ci_answer(f.municipal_school, "2025-09-01T10:00:00+02:00", "attendance"), ["reply_to", "message/reply_to"])
	d := sekretess.decision with input as i
	not d.allow
	f.has_reason(d, "R-CHILD-INVESTIGATION: must answer a request social services made to this sender for a child investigation")
}

test_child_investigation_fu_data_under_r_fu if {
	d := sekretess.decision with input as ci_answer(f.police, "2025-09-01T10:00:00+02:00", "preliminary_investigation")
	not d.allow
	f.has_reason(d, "R-CHILD-INVESTIGATION: data from a preliminary investigation goes to social services under R-FU")
}
