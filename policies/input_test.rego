# The quick well-formedness check in sekretess.rego (input_well_formed)
# holds literal copies of the vocabulary. These tests check that it accepts
# exactly the vocabulary and that it implies that no input problem is named.
package sekretess_test.input

import data.sekretess
import data.sekretess.lib
import data.sekretess.vocab
import data.sekretess_test.fixtures as f

base := f.msg(f.municipal_school, f.social_services, "concern_report", f.t, {"category": "concern", "subject": {"age": 10}})

well_formed if sekretess.input_well_formed

else := false

member(x, s) if x in s

else := false

empty(s) if count(s) == 0

else := false

# Strings to try: every word of the vocabulary and some that are not.
words := (((vocab.kinds | vocab.categories) | vocab.rule_ids) | lib.party_kinds) | {"", "x", "Concern", "R-concern"}

test_base_well_formed if {
	sekretess.input_well_formed with input as base
	count(sekretess.input_problem_details) == 0 with input as base
}

test_well_formed_kinds_are_vocab_kinds if {
	every w in words {
		ok := well_formed with input as base
			with input.message.kind as w
		ok == member(w, vocab.kinds)
	}
}

test_well_formed_categories_are_vocab_categories if {
	every w in words {
		ok := well_formed with input as base
			with input.claims.category as w
		ok == member(w, vocab.categories)
	}
}

test_well_formed_claimed_bases_are_rule_ids if {
	every w in words {
		ok := well_formed with input as base
			with input.claims.legal_basis_claimed as w
		ok == member(w, vocab.rule_ids)
	}
	sekretess.input_well_formed with input as base with input.claims.legal_basis_claimed as null
}

# A party is well formed when its kind is known, a school has a known
# operator and no other party has one.
test_well_formed_parties if {
	every k in words | {null} {
		every op in lib.school_operators | {null, "x"} {
			p := object.union(f.police, {"kind": k, "operator": op})
			want := usual_party(k, op)
			want == well_formed with input as base with input.sender as p
			want == well_formed with input as base with input.recipient as p
		}
	}
}

usual_party(k, op) if {
	k in lib.party_kinds
	k != "school"
	op == null
}

usual_party("school", op) if op in lib.school_operators

usual_party(k, op) := false if {
	not k in lib.party_kinds
} else := false if {
	k == "school"
	not op in lib.school_operators
} else := false if {
	k != "school"
	op != null
}

# Whenever the quick check holds, no problem is named.
test_well_formed_implies_no_problems if {
	every w in vocab.kinds | vocab.categories {
		i := object.union(base, {"message": {"kind": w}, "claims": {"category": w}})
		problems := sekretess.input_problem_details with input as i
		wf := well_formed with input as i
		wf == empty(problems)
	}
}

# A party that is not well formed is never passed over in silence: an
# operator on the police or social services is named too.
test_every_malformed_party_named if {
	every k in lib.party_kinds {
		every op in lib.school_operators | {null, "x"} {
			usual_or_named(object.union(f.police, {"kind": k, "operator": op}))
		}
	}
	d := sekretess.decision with input as base with input.sender as object.union(f.police, {"operator": "municipal"})
	not d.allow
	f.has_reason(d, "sender of kind police has operator municipal: only schools have one")
}

usual_or_named(p) if usual_party(p.kind, p.operator)

usual_or_named(p) if {
	problems := sekretess.input_problem_details with input as base with input.sender as p
	count(problems) > 0
}

# The quick check of reply_to agrees with the problems named for it.
test_well_formed_reply_to_implies_no_problems if {
	every v in [
		{},
		{"message": {"reply_to": f.req_id}, "reply_to": {"id": f.req_id}},
		{"message": {"reply_to": f.req_id}},
		{"message": {"reply_to": f.req_id}, "reply_to": {"id": f.msg_id}},
		{"message": {"reply_to": f.req_id}, "reply_to": null},
		{"message": {"reply_to": null}, "reply_to": {"id": f.req_id}},
		{"message": {"reply_to": null}, "reply_to": null},
		{"reply_to": {}},
		{"message": {"reply_to": false}, "reply_to": {"id": false}},
	] {
		i := object.union(base, v)
		problems := sekretess.input_problem_details with input as i
		wf := well_formed with input as i
		wf == empty(problems)
	}
}
