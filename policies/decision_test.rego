package sekretess_test.decision

import data.sekretess
import data.sekretess_test.fixtures as f

concern := f.msg(f.municipal_school, f.social_services, "concern_report", f.t, {"category": "concern", "subject": {"age": 10}})

test_empty_input_denied_with_reasons if {
	d := sekretess.decision with input as {}
	d.allow == false
	d.rule == null
	d.basis == null
	d.obligations == []
	count(d.reasons) > 0
	"message.created_at is missing or not RFC3339: the decision time is unknown" in d.reasons
	"no rule allows this message" in d.reasons
}

test_decision_always_defined_without_input if {
	d := sekretess.decision
	d.allow == false
}

test_unknown_kind_denied if {
	d := sekretess.decision with input as object.union(concern, {"message": {"kind": "gossip"}})
	not d.allow
	"unknown message kind gossip" in d.reasons
}

test_unknown_party_denied if {
	d := sekretess.decision with input as object.union(concern, {"sender": {"kind": "insurance_company"}})
	not d.allow
	"unknown sender kind insurance_company" in d.reasons
}

test_unknown_school_operator_denied if {
	d := sekretess.decision with input as object.union(concern, {"sender": {"operator": "church"}})
	not d.allow
	f.has_reason(d, "sender is a school with unknown operator church")
}

test_unknown_category_denied if {
	d := sekretess.decision with input as object.union(concern, {"claims": {"category": "gossip"}})
	not d.allow
	"claims.category is not a data category the policy knows (see vocab.categories)" in d.reasons
	not f.has_reason(d, "gossip")
}

test_unknown_rule_claimed_denied if {
	d := sekretess.decision with input as object.union(concern, {"claims": {"legal_basis_claimed": "R-WHATEVER"}})
	not d.allow
	"claims.legal_basis_claimed does not name a rule the policy knows (R-CONCERN, R-CONSENT, ...)" in d.reasons
	not f.has_reason(d, "R-WHATEVER")
}

test_known_rule_claimed_is_fine if {
	d := sekretess.decision with input as object.union(concern, {"claims": {"legal_basis_claimed": "R-CONCERN"}})
	d.allow
}

test_bad_message_id_denied if {
	d := sekretess.decision with input as object.union(concern, {"message": {"id": "ABC"}})
	not d.allow
	"message.id is not 32 lowercase hex digits" in d.reasons
}

test_bad_created_at_denied if {
	d := sekretess.decision with input as object.union(concern, {"message": {"created_at": "yesterday"}})
	not d.allow
	"message.created_at is missing or not RFC3339: the decision time is unknown" in d.reasons
}

test_unresolved_reply_to_denied if {
	d := sekretess.decision with input as object.union(concern, {"message": {"reply_to": "99999999999999999999999999999999"}})
	not d.allow
	f.has_reason(d, "message replies to 99999999999999999999999999999999 but the broker has no record of it")
}

test_unknown_forwarded_message_denied if {
	d := sekretess.decision with input as object.union(concern, {"claims": {"forwarded_from": ["22222222222222222222222222222222"]}})
	not d.allow
	"claims.forwarded_from names 1 message(s) the broker has no record of" in d.reasons
	not f.has_reason(d, "22222222222222222222222222222222")
}

test_forwarding_data_without_no_forward_obligation_keeps_obligations if {
	i := object.union(concern, {
		"claims": {"forwarded_from": ["33333333333333333333333333333333"]},
		"sources": [{"id": "33333333333333333333333333333333", "rule": "R-FEEDBACK", "obligations": ["status-only"], "recipient": f.municipal_school.id}],
	})
	d := sekretess.decision with input as i
	d.allow
	d.obligations == ["secret at the reporter: OSL 40 kap. 7 g §", "status-only"]
}

test_forwarding_someone_elses_message_denied if {
	i := object.union(concern, {
		"claims": {"forwarded_from": ["33333333333333333333333333333333"]},
		"sources": [{"id": "33333333333333333333333333333333", "rule": "R-CONCERN", "obligations": [], "recipient": f.police.id}],
	})
	d := sekretess.decision with input as i
	not d.allow
	"forwarded message 33333333333333333333333333333333 was not addressed to the sender" in d.reasons
}

# A denial lists every rule's reasons plus the generic ones, each rule's
# reasons together and sorted (order_test.rego checks the order of the rules).
test_denial_lists_every_rule if {
	d := sekretess.decision with input as object.union(concern, {"claims": {"subject": {"age": 30}}})
	not d.allow
	every id in data.sekretess.vocab.precedence {
		p := concat("", [id, ": "])
		mine := [i | some i, r in d.reasons; startswith(r, p)]
		mine == numbers.range(mine[0], mine[count(mine) - 1])
		rs := [d.reasons[i] | some i in mine]
		rs == sort(rs)
	}
	every id in data.sekretess.vocab.precedence {
		some r in d.reasons
		startswith(r, concat("", [id, ": "]))
	}
	"no rule allows this message" in d.reasons
}

test_allow_has_no_reasons if {
	d := sekretess.decision with input as concern
	d.allow
	d.reasons == []
	d.rule == "R-CONCERN"
	is_string(d.basis)
}

# Precedence: the most specific rule is reported, the others are listed.
test_precedence_lub_request_over_school_public if {
	i := f.reply(
		f.municipal_school, f.police, "response", f.t,
		{"category": "class_list", "sender_role": "rector"},
		f.request_record(f.police, f.municipal_school, "R-LUB-REQUEST", "class_list"),
	)
	d := sekretess.decision with input as i
	d.rule == "R-LUB-REQUEST"
	d.also_allowed_by == ["R-SCHOOL-PUBLIC"]
}

test_precedence_1018a_over_consent_and_1015a if {
	c := f.valid_consent([f.police.id], ["risk_environment"])
	i := object.union(
		f.msg(f.social_services, f.police, "disclosure", f.t, {
			"category": "risk_environment", "purpose": "samordnat stöd", "purpose_code": "prevent_crime",
			"subject": {"pseudonym": "p-1", "age": 14},
			"necessity_assessment": f.judgement("needed"),
			"secrecy_weighing": f.judgement("secrecy_does_not_prevail"),
			"conditions_1018a": {
				"by": "H", "at": "2026-01-14T10:00:00+01:00",
				"risk_of_crime": {"met": true, "text": "a"}, "helps_prevent": {"met": true, "text": "b"}, "not_inappropriate": {"met": true, "text": "c"},
			},
		}),
		{"consent": c},
	)
	d := sekretess.decision with input as i
	d.rule == "R-1018A"
	d.also_allowed_by == ["R-CONSENT", "R-1015A"]
}

test_precedence_consent_over_general_clause if {
	c := f.valid_consent([f.social_services.id], ["pupil_welfare"])
	i := object.union(
		f.msg(f.municipal_school, f.social_services, "disclosure", f.t, {
			"category": "pupil_welfare", "purpose": "samordnat stöd", "subject": {"pseudonym": "p-1"},
			"general_clause_weighing": f.judgement("manifestly_outweighs"),
		}),
		{"consent": c},
	)
	d := sekretess.decision with input as i
	d.rule == "R-CONSENT"
	d.also_allowed_by == ["R-GENERAL"]
}

test_precedence_order_is_complete if {
	count(data.sekretess.vocab.precedence) == 20
	count(data.sekretess.vocab.rule_ids) == 20
	count(sekretess.results) == 20
}

# --- the 2027 switch: OSL for independent schools -------------------------

indep_general(t) := f.msg(f.independent_school, f.social_services, "disclosure", t, {
	"category": "pupil_welfare", "subject": {"pseudonym": "p-2", "age": 12},
	"general_clause_weighing": {"by": "Rektor", "at": "2026-06-01T10:00:00+02:00", "outcome": "manifestly_outweighs"},
})

test_switch_off_by_default if {
	data.sekretess.config.independent_schools_under_osl == false
	d := sekretess.decision with input as indep_general("2027-02-01T10:00:00+01:00")
	not d.allow
	f.has_reason(d, "R-GENERAL: sender is not an authority under OSL")
}

test_switch_on_from_2027 if {
	d := sekretess.decision with input as indep_general("2027-02-01T10:00:00+01:00")
		with data.sekretess.config.independent_schools_under_osl as true
	d.allow
	d.rule == "R-GENERAL"
}

test_switch_on_but_before_2027_still_off if {
	d := sekretess.decision with input as indep_general("2026-12-31T23:59:59+01:00")
		with data.sekretess.config.independent_schools_under_osl as true
	not d.allow
	f.has_reason(d, "R-GENERAL: sender is not an authority under OSL")
}

test_switch_changes_school_public_basis if {
	i := f.msg(f.independent_school, f.police, "disclosure", "2027-03-01T10:00:00+01:00", {"category": "enrolment"})
	d_off := sekretess.decision with input as i
	d_off.basis == "skollagen (2010:800) 29 kap. 14 § (uppgiften omfattas inte av tystnadsplikt)"
	d_on := sekretess.decision with input as i
		with data.sekretess.config.independent_schools_under_osl as true
	d_on.basis == "OSL 23 kap. 2 § tredje stycket (uppgiften omfattas inte av sekretess)"
}

test_switch_1015a_independent_school if {
	i := f.msg(f.social_services, f.independent_school, "disclosure", "2027-03-01T10:00:00+01:00", {
		"category": "case_details", "purpose_code": "prevent_crime",
		"necessity_assessment": {"by": "E", "at": "2027-03-01T08:00:00+01:00", "outcome": "needed"},
		"secrecy_weighing": {"by": "E", "at": "2027-03-01T08:00:00+01:00", "outcome": "secrecy_does_not_prevail"},
	})
	d_off := sekretess.decision with input as i
	not d_off.allow
	d_on := sekretess.decision with input as i
		with data.sekretess.config.independent_schools_under_osl as true
	d_on.allow
	d_on.rule == "R-1015A"
}
