package sekretess_test.concern

import data.sekretess
import data.sekretess_test.fixtures as f

concern_claims := {"category": "concern", "subject": {"pseudonym": "p-17", "age": 14}}

concern_from(sender, t) := f.msg(sender, f.social_services, "concern_report", t, concern_claims)

test_concern_school_allowed_old_sol if {
	d := sekretess.decision with input as concern_from(f.municipal_school, "2025-06-30T23:59:59+02:00")
	d.allow == true
	d.rule == "R-CONCERN"
	d.basis == "SoL (2001:453) 14 kap. 1 § första stycket"
	d.reasons == []
}

test_concern_basis_switches_to_new_sol_on_2025_07_01 if {
	d := sekretess.decision with input as concern_from(f.municipal_school, "2025-07-01T00:00:00+02:00")
	d.allow == true
	d.rule == "R-CONCERN"
	d.basis == "SoL (2025:400) 19 kap. 1 §"
	d.obligations == []
}

# From 2026-01-15 a report of concern is secret at the reporter (OSL 40 kap.
# 7 g §, SFS 2025:1495): the decision carries that obligation.
test_concern_secret_at_reporter_from_2026_01_15 if {
	before := sekretess.decision with input as concern_from(f.municipal_school, "2026-01-14T23:59:59+01:00")
	before.allow
	before.obligations == []
	d := sekretess.decision with input as concern_from(f.municipal_school, "2026-01-15T00:00:00+01:00")
	d.allow
	d.rule == "R-CONCERN"
	d.obligations == ["secret at the reporter: OSL 40 kap. 7 g §"]
}

# Tullverket is named among those obliged to report only from 2026-01-15
# (SFS 2025:1501); before, it reports as anyone may.
test_concern_customs_basis_by_date if {
	old := sekretess.decision with input as concern_from(f.customs, "2025-06-30T10:00:00+02:00")
	old.basis == "SoL (2001:453) 14 kap. 1 c §"
	mid := sekretess.decision with input as concern_from(f.customs, "2025-09-01T10:00:00+02:00")
	mid.allow
	mid.basis == "SoL (2025:400) 19 kap. 4 §"
	new := sekretess.decision with input as concern_from(f.customs, "2026-01-15T10:00:00+01:00")
	new.basis == "SoL (2025:400) 19 kap. 1 §"
	sapo := sekretess.decision with input as concern_from(f.security_police, "2025-09-01T10:00:00+02:00")
	sapo.basis == "SoL (2025:400) 19 kap. 1 §"
}

test_concern_police_and_independent_school_each_report_q7 if {
	d1 := sekretess.decision with input as concern_from(f.police, "2025-09-01T10:00:00+02:00")
	d1.rule == "R-CONCERN"
	d2 := sekretess.decision with input as concern_from(f.independent_school, "2025-09-01T10:05:00+02:00")
	d2.rule == "R-CONCERN"
}

test_concern_repeated_report_allowed_q8 if {
	i := object.union(concern_from(f.municipal_school, "2025-09-02T10:00:00+02:00"), {"claims": {"repeat_of": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]}})
	d := sekretess.decision with input as i
	d.allow == true
	d.rule == "R-CONCERN"
}

test_concern_denied_for_adult if {
	i := object.union(concern_from(f.municipal_school, "2025-09-01T10:00:00+02:00"), {"claims": {"subject": {"age": 18}}})
	d := sekretess.decision with input as i
	d.allow == false
	"R-CONCERN: subject is 18 or older: the duty to report concerns children under 18" in d.reasons
}

test_concern_denied_without_age if {
	i := f.msg(f.municipal_school, f.social_services, "concern_report", "2025-09-01T10:00:00+02:00", {"category": "concern", "subject": {"pseudonym": "p-17"}})
	d := sekretess.decision with input as i
	d.allow == false
	"R-CONCERN: subject age is missing (claims.subject.age or claims.subject.birth_date)" in d.reasons
}

test_concern_birth_date_boundary if {
	# 18th birthday on the decision date: no longer a child.
	i := f.msg(f.municipal_school, f.social_services, "concern_report", "2025-09-01T00:30:00+02:00", {"category": "concern", "subject": {"birth_date": "2007-09-01"}})
	d := sekretess.decision with input as i
	d.allow == false

	# The day before, still 17 (Swedish date, although UTC is still 2025-08-31 on the 1st at 00:30).
	i2 := f.msg(f.municipal_school, f.social_services, "concern_report", "2025-08-31T23:30:00+02:00", {"category": "concern", "subject": {"birth_date": "2007-09-01"}})
	d2 := sekretess.decision with input as i2
	d2.allow == true
}

test_concern_only_to_social_services if {
	d := sekretess.decision with input as f.msg(f.municipal_school, f.police, "concern_report", "2025-09-01T10:00:00+02:00", concern_claims)
	d.allow == false
	"R-CONCERN: a report of concern goes to social services" in d.reasons
}

# A rule whose allow is not a boolean is named and blocks the message.
test_rule_without_boolean_result_is_named if {
	d := sekretess.decision with input as concern_from(f.municipal_school, f.t)
		with data.sekretess.rules.concern.allow as "yes"
	d.allow == false
	"internal: rule R-CONCERN produced no result" in d.reasons
}
