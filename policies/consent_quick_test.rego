# The quick check of a consent record (consent.record_valid) must never hide
# a problem: for a valid record and for records with each kind of problem,
# the problems reported are exactly those the detailed rules name.
package sekretess_test.consent_quick

import data.sekretess.consent
import data.sekretess_test.fixtures as f

claims := {"category": "pupil_welfare", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"}}

good := f.valid_consent([f.social_services.id], ["pupil_welfare"])

msg(c) := object.union(
	f.msg(f.municipal_school, f.social_services, "disclosure", f.t, claims),
	{"consent": c, "decided_at": "2026-01-15T10:00:05+01:00"},
)

guardian(at) := {"role": "guardian", "at": at}

variants := [
	good,
	object.union(good, {"general": true}),
	object.union(good, {"general": false}),
	object.union(good, {"categories": ["*"]}),
	object.union(good, {"recipients": ["all"]}),
	object.union(good, {"recipient": "any"}),
	object.union(good, {"recipient": f.social_services.id, "recipients": []}),
	json.remove(good, ["documented"]),
	object.union(good, {"documented": {"how": "rumour", "by": "X", "at": "2025-12-01T09:05:00+01:00"}}),
	object.union(good, {"documented": {"how": "oral", "by": " ", "at": "2025-12-01T09:05:00+01:00"}}),
	object.union(good, {"documented": {"how": "oral", "by": "X", "at": "2027-01-01T00:00:00+01:00"}}),
	object.union(good, {"categories": ["grades"]}),
	json.remove(good, ["purpose"]),
	object.union(good, {"purpose": "något annat"}),
	object.union(good, {"subject": {"pseudonym": "p-2"}}),
	object.union(good, {"discloser": f.municipal_school.id}),
	object.union(good, {"discloser": "skola-annan"}),
	object.union(good, {"discloser": null}),
	json.remove(good, ["valid_from"]),
	object.union(good, {"valid_from": "i morgon"}),
	object.union(good, {"valid_from": "2026-06-01T00:00:00+02:00"}),
	json.remove(good, ["valid_until"]),
	object.union(good, {"valid_until": "2026-01-01T00:00:00+01:00"}),
	object.union(good, {"valid_until": "snart"}),
	object.union(good, {"withdrawn_at": "2026-01-01T00:00:00+01:00"}),
	object.union(good, {"withdrawn_at": "2026-01-15T10:00:03+01:00"}),
	object.union(good, {"withdrawn_at": "2026-02-01T00:00:00+01:00"}),
	object.union(good, {"withdrawn_at": "sedan"}),
	object.union(good, {"withdrawn_at": null}),
	object.union(good, {"subject": {"pseudonym": "p-1", "birth_date": "2000-01-01"}}),
	object.union(good, {"subject": {"pseudonym": "p-1", "birth_date": "2000-01-01"}, "given_by": [{"role": "person", "at": "2025-12-01T09:00:00+01:00"}]}),
	object.union(good, {"subject": {"pseudonym": "p-1"}}),
	object.union(good, {"given_by": []}),
	object.union(good, {"given_by": [guardian("2026-02-01T00:00:00+01:00")]}),
	object.union(good, {"guardian_count": 2}),
	object.union(good, {"guardian_count": 2, "given_by": [guardian("2025-12-01T09:00:00+01:00"), guardian("2025-12-01T09:00:00+01:00")]}),
	json.remove(good, ["maturity_assessment"]),
	json.remove(good, ["guardian_count"]),
	object.union(good, {"guardian_count": "två"}),
	object.union(good, {"maturity_assessment": true}),
	object.union(good, {"maturity_assessment": f.judgement("mature")}),
	object.union(good, {"maturity_assessment": object.union(f.judgement("child_consent_not_required"), {"by": ""})}),
	object.union(good, {"maturity_assessment": object.union(f.judgement("child_consent_not_required"), {"at": "2026-02-01T00:00:00+01:00"})}),
	object.union(good, {"maturity_assessment": f.judgement("child_consent_required")}),
	object.union(good, {"maturity_assessment": f.judgement("child_consent_required"), "given_by": [guardian("2025-12-01T09:00:00+01:00"), {"role": "child", "at": "2025-12-01T09:00:00+01:00"}]}),
	object.union(good, {"valid_until": 20260801}),
	object.union(json.remove(good, ["subject/birth_date"]), {"subject": {"age": -1}}),
	object.union(json.remove(good, ["subject/birth_date"]), {"subject": {"age": 12}}),
	object.union(good, {"given_by": [{"role": "child", "at": "2025-12-01T09:00:00+01:00"}], "child_alone_assessment": f.judgement("may_consent_alone")}),
]

test_quick_check_hides_no_problem if {
	every v in variants {
		quick := consent.record_problems with input as msg(v)
		details := consent.record_problem_details with input as msg(v)
		quick == details
	}
}

test_quick_check_hides_no_problem_decided_at if {
	every d in ["ingen tid", null, "2026-01-15T10:00:05+01:00"] {
		i := object.union(msg(good), {"decided_at": d})
		quick := consent.record_problems with input as i
		details := consent.record_problem_details with input as i
		quick == details
	}
	i := json.remove(msg(good), ["decided_at"])
	quick := consent.record_problems with input as i
	quick == set()
	quick == consent.record_problem_details with input as i
}

# The good record and some valid variants take the quick path.
test_quick_check_recognises_valid_records if {
	every i in [0, 2, 6, 21, 30, 35, 44, 47, 48] {
		consent.record_valid with input as msg(variants[i])
		count(consent.record_problem_details) == 0 with input as msg(variants[i])
	}
}
