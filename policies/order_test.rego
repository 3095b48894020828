# The order of a denial's reasons: input problems, the claimed rule, the
# rules whose scope fits (closest first), the scope mismatches of the other
# rules, and "no rule allows this message" last. The list stays complete.
package sekretess_test.order

import data.sekretess
import data.sekretess_test.fixtures as f

# Social services tell the police about a 15-year-old without the 10:18 a
# assessment: refused.
risk := f.msg(f.social_services, f.police, "disclosure", f.t, {
	"category": "risk_environment", "subject": {"pseudonym": "p-1", "age": 15},
})

claiming(i, id) := object.union(i, {"claims": {"legal_basis_claimed": id}})

# The school gives a pupil's health data to the police (the README's tour).
health := f.msg(f.municipal_school, f.police, "disclosure", f.t, {
	"category": "health", "subject": {"pseudonym": "elev-4711", "age": 13},
})

prefix(id) := concat("", [id, ": "])

# The rule ids in the order their reasons appear, each once.
rule_order(reasons) := [id |
	some i, r in reasons
	id := rule_of(r)
	not same_rule_before(reasons, i, id)
]

rule_of(r) := id if {
	some id in data.sekretess.vocab.precedence
	startswith(r, prefix(id))
}

position(list, x) := i if {
	some i, y in list
	y == x
}

same_rule_before(reasons, i, id) if {
	i > 0
	rule_of(reasons[i - 1]) == id
}

test_claimed_rule_comes_first if {
	d := sekretess.decision with input as claiming(risk, "R-1018A")
	not d.allow
	startswith(d.reasons[0], "R-1018A: ")
	some r in d.reasons
	startswith(r, "R-1018A: the documented assessment of the conditions of OSL 10 kap. 18 a § is missing")
}

test_claimed_rule_first_even_if_it_does_not_fit if {
	# R-CONCERN covers only reports of concern: its scope mismatch comes first.
	d := sekretess.decision with input as claiming(risk, "R-CONCERN")
	not d.allow
	startswith(d.reasons[0], "R-CONCERN: ")
	rule_order(d.reasons)[0] == "R-CONCERN"
}

test_claim_changes_only_the_order if {
	plain := sekretess.decision with input as risk
	claimed := sekretess.decision with input as claiming(risk, "R-1018A")
	count(plain.reasons) == count(claimed.reasons)
	{r | some r in plain.reasons} == {r | some r in claimed.reasons}
}

test_input_problems_come_before_the_claimed_rule if {
	i := object.union(claiming(risk, "R-1018A"), {"message": {"id": "not-an-id"}})
	d := sekretess.decision with input as i
	not d.allow
	d.reasons[0] == "message.id is not 32 lowercase hex digits"
	startswith(d.reasons[1], "R-1018A: ")
}

test_no_rule_allows_is_last if {
	d := sekretess.decision with input as health
	not d.allow
	d.reasons[count(d.reasons) - 1] == "no rule allows this message"
	count([r | some r in d.reasons; r == "no rule allows this message"]) == 1
}

# Without a claim, the rules whose scope fits come first, closest first, and
# the rules that do not concern the message last.
test_fitting_rules_before_unrelated_ones if {
	d := sekretess.decision with input as health
	order := rule_order(d.reasons)

	# The school may give the police data under these rules (10 kap. 21 and
	# 23 §§ reach elevhälsa's health records too); the others do not
	# concern a disclosure from a school to the police.
	fitting := {"R-SCHOOL-PUBLIC", "R-CONSENT", "R-CRIME-SUSPECT", "R-GENERAL", "R-1015A", "R-LUB-OWN"}
	{id | some id in array.slice(order, 0, count(fitting))} == fitting
	every id in array.slice(order, count(fitting), count(order)) {
		not id in fitting
	}

	# Closest first: one failed condition before four.
	position(order, "R-CONSENT") < position(order, "R-LUB-OWN")
	position(order, "R-SCHOOL-PUBLIC") < position(order, "R-LUB-OWN")
	"R-CONSENT: no consent record resolved by the broker for this message (input.consent)" in d.reasons
}

test_one_rules_reasons_stay_together if {
	d := sekretess.decision with input as health
	order := rule_order(d.reasons)
	count(order) == count({id | some id in order})
}

# Complete: every generic and rule reason, each once.
test_reasons_are_complete if {
	every i in [health, risk, claiming(risk, "R-1018A"), {}] {
		d := sekretess.decision with input as i
		all := sekretess.generic_reasons | sekretess.rule_reasons with input as i
		count(d.reasons) == count(all)
		{r | some r in d.reasons} == all
	}
}

# The decision reads each rule's reasons from its scope and conditions; they
# are exactly the rule's `reasons`, for every rule.
test_groups_hold_each_rules_reasons if {
	every i in [health, risk, claiming(risk, "R-1018A"), {}] {
		groups := sekretess.rule_groups with input as i
		count(groups) == count(data.sekretess.vocab.precedence)
		every g in groups {
			rs := data.sekretess.rules[data.sekretess.vocab.packages[g[4]]].reasons with input as i
			g[5] == rs
		}
	}
}

test_allow_has_no_reasons_even_with_a_claim if {
	i := f.msg(f.municipal_school, f.social_services, "concern_report", f.t, {
		"category": "concern", "subject": {"age": 10}, "legal_basis_claimed": "R-CONCERN",
	})
	d := sekretess.decision with input as i
	d.allow
	d.reasons == []
}
