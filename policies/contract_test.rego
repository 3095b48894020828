# A rule's `allow` holds exactly when its scope and conditions are empty
# (see "rules" in lib.rego). The quick exits at the start of `allow` (kind,
# parties, category) must only exclude messages that the scope or a
# condition excludes. Checked on every example input, with each category in
# turn.
package sekretess_test.contract

import data.sekretess.vocab

decision_keys := ["allow", "rule", "basis", "obligations", "reasons", "also_allowed_by"]

example_inputs contains object.remove(ex, decision_keys) if some ex in data.examples

both_empty(a, b) if {
	count(a) == 0
	count(b) == 0
}

else := false

test_examples_loaded if count(example_inputs) == count(data.examples)

# Checked in eight parts, by the packages' place in precedence order, so that
# each part stays well within opa test's time limit per test on a busy machine.
allow_is_empty_scope_and_conditions(part) if {
	pkgs := [pkg |
		some i, id in vocab.precedence
		i % 8 == part
		pkg := vocab.packages[id]
	]
	every ex in example_inputs {
		every c in vocab.categories | {null, "x"} {
			every pkg in pkgs {
				i := object.union(ex, {"claims": {"category": c}})
				a := data.sekretess.rules[pkg].allow with input as i
				s := data.sekretess.rules[pkg].scope with input as i
				k := data.sekretess.rules[pkg].conditions with input as i
				a == both_empty(s, k)
			}
		}
	}
}

test_allow_is_empty_scope_and_conditions_0 if allow_is_empty_scope_and_conditions(0)

test_allow_is_empty_scope_and_conditions_1 if allow_is_empty_scope_and_conditions(1)

test_allow_is_empty_scope_and_conditions_2 if allow_is_empty_scope_and_conditions(2)

test_allow_is_empty_scope_and_conditions_3 if allow_is_empty_scope_and_conditions(3)

test_allow_is_empty_scope_and_conditions_4 if allow_is_empty_scope_and_conditions(4)

test_allow_is_empty_scope_and_conditions_5 if allow_is_empty_scope_and_conditions(5)

test_allow_is_empty_scope_and_conditions_6 if allow_is_empty_scope_and_conditions(6)

test_allow_is_empty_scope_and_conditions_7 if allow_is_empty_scope_and_conditions(7)
