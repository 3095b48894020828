# Entry point: data.sekretess.decision, one object, always defined.
package sekretess

import data.sekretess.lib
import data.sekretess.vocab

# The rules that cover the message kind, as [rule id, package], in
# precedence order; none for an unknown kind.
candidates := object.get(vocab.rules_by_kind, lib.kind, [])

# Whether each rule covering the kind allows, keyed by rule id. The rules are
# read from their packages (see "rules" in lib.rego) with a bound package
# name, so only the parts the decision needs are evaluated.
candidate_results := {id: a |
	some [id, pkg] in candidates
	a := data.sekretess.rules[pkg].allow
	is_boolean(a)
}

# Whether each rule allows, keyed by rule id: a rule that does not cover the
# message kind does not allow it (its kind guard, see kinds_test.rego).
results := {id: a |
	some id in vocab.precedence
	a := object.get(candidate_results, id, false)
}

# Rules that allow this message, most specific first.
allowed_by := [id | some [id, _] in candidates; candidate_results[id] == true]

allow if {
	count(generic_reasons) == 0
	count(allowed_by) > 0
}

# Obligations of data forwarded in this message travel with it.
inherited_obligations contains o if {
	some s in object.get(input, "sources", [])
	some o in object.get(s, "obligations", [])
}

# Data from a preliminary investigation stays under FU secrecy whichever
# authority holds it and whichever rule let it out (OSL 18 kap. 1 och 3 §§,
# Q15), not only under R-FU.
inherited_obligations contains "fu-secrecy: do not forward" if {
	input.claims.category == "preliminary_investigation"
	lib.sender_kind in lib.law_enforcement_kinds
}

decision := {
	"allow": true,
	"rule": rule,
	"basis": reported.basis,
	"obligations": sort(reported.obligations | inherited_obligations),
	"reasons": [],
	"also_allowed_by": array.slice(allowed_by, 1, count(allowed_by)),
} if {
	allow
	rule := allowed_by[0]
} else := {
	"allow": false,
	"rule": null,
	"basis": null,
	"obligations": [],
	"reasons": ordered_reasons,
	"also_allowed_by": [],
}

# The basis and obligations of the rule the decision reports.
# (Each part is read by its own reference: binding the package to a variable
# would evaluate every rule in it.)
reported := {
	"basis": data.sekretess.rules[pkg].basis,
	"obligations": data.sekretess.rules[pkg].obligations,
} if {
	pkg := vocab.packages[allowed_by[0]]
}

# Every rule's failure reasons, prefixed with its id.
rule_reasons contains concat("", [id, ": ", r]) if {
	some [_, _, _, _, id, rs] in rule_groups
	some r in rs
}

# --- the order of a denial's reasons -----------------------------------------

# An official reads a denial from the top, so the reasons that decide it come
# first (policies/README.md, "The decision"):
#
#   1. problems with the input itself and other generic reasons, which block
#      every rule, sorted;
#   2. the reasons of the rule the sender relies on
#      (claims.legal_basis_claimed), whatever they are;
#   3. the failed conditions of the rules whose scope fits the message,
#      closest (fewest failed conditions) first;
#   4. the scope mismatches of the rules that do not concern the message,
#      closest first;
#   5. "no rule allows this message", which sums up the rest.
#
# Ties go by precedence; the reasons of one rule stay together, sorted. The
# list stays complete: it holds exactly generic_reasons | rule_reasons.
no_rule_allows := "no rule allows this message"

ordered_reasons := array.concat(
	array.concat(sort(generic_reasons - {no_rule_allows}), [concat("", [id, ": ", r]) | some [_, _, _, _, id, rs] in rule_groups; some r in rs]),
	[r | some r in [no_rule_allows]; generic_reasons[r]],
)

# The rule the sender says it relies on, or null.
claimed_rule := object.get(input, ["claims", "legal_basis_claimed"], null)

# One entry per rule, sorted into the order above by
#
#   [not the claimed rule, number of scope mismatches, number of reasons,
#    precedence, the rule id, the reasons]
#
# false sorts before true, so the claimed rule comes first; a rule in scope
# has no scope mismatch, so the rules in scope come next, fewest failed
# conditions first; then the rules out of scope, fewest mismatches first.
# A rule that allows has no reasons and adds nothing. A set is iterated in
# sorted order, so each rule's reasons come out sorted; they are prefixed
# with the rule id as they are read out. (Every expression here is evaluated
# for every rule on every denial, so there are as few as can be.)
# (claimed is bound once, outside the comprehension, so that each rule
# compares with a local value rather than looking up claimed_rule.)
rule_groups := sort([_group(claimed, i, id, pkg) | some i, [id, pkg] in vocab.rule_packages]) if {
	claimed := claimed_rule
}

# A rule's entry in rule_groups. Its reasons are the rule's `reasons` (see
# "rules" in lib.rego): the scope when the message is outside it, and
# otherwise the failed conditions. They are read from `scope` and
# `conditions` here, since the scope is counted for the order anyway, which
# spares reading `reasons` and counting the scope twice (order_test.rego
# checks that the entries hold each rule's `reasons`).
_group(claimed, i, id, pkg) := [id != claimed, n, n, i, id, s] if {
	s := data.sekretess.rules[pkg].scope
	n := count(s)
	n > 0
} else := [id != claimed, 0, count(c), i, id, c] if {
	c := data.sekretess.rules[pkg].conditions
}

# --- generic reasons: malformed or unknown input blocks every rule ---------

generic_reasons contains "no rule allows this message" if count(allowed_by) == 0

# Q15: förundersökningssekretess protects the investigation wherever the data
# is, so whoever received it from the police keeps it: no consent or other
# rule lets it go on, except back to the police.
generic_reasons contains "data from a preliminary investigation stays under förundersökningssekretess wherever it is and is passed on by no one but the police (OSL 18 kap. 1 och 3 §§, Q15)" if {
	input.claims.category == "preliminary_investigation"
	lib.sender_kind in {"school", "social_services"}
	lib.recipient_kind != "police"
}

# A rule whose allow is not a boolean has no entry in candidate_results, so
# one comparison of counts covers the common case.
generic_reasons contains sprintf("internal: rule %s produced no result", [id]) if {
	count(candidate_results) != count(candidates)
	some [id, _] in candidates
	not id in object.keys(candidate_results)
}

generic_reasons contains sprintf("internal: rule %s allows but states no basis and obligations", [id]) if {
	id := allowed_by[0]
	not reported
}

# Malformed or unknown input. The common case, a well-formed message that
# forwards nothing, is recognised by one quick check; otherwise every
# problem is named by the rules for input_problem_details below.
generic_reasons contains r if {
	not input_well_formed
	some r in input_problem_details
}

# Implies that no input_problem_details rule below applies. The sets are literal
# copies of vocab.kinds, the parties' kinds and operators, vocab.categories
# and vocab.rule_ids (input_test.rego checks them), so that the common case
# evaluates no other rule but lib.now_ns.
input_well_formed if {
	# input bound once: each use of `input` as a value costs an expression.
	doc := input
	regex.match(`^[0-9a-f]{32}$`, object.get(doc, ["message", "id"], ""))
	lib.now_ns
	input.message.kind in {
		"request", "response", "disclosure", "concern_report", "feedback",
		"report", "consultation", "meeting", "followup",
	}

	# Sender and recipient as the broker's directory describes them.
	[input.sender.kind, object.get(doc, ["sender", "operator"], null)] in {
		["police", null], ["security_police", null], ["customs", null], ["social_services", null],
		["school", "municipal"], ["school", "independent"],
	}
	[input.recipient.kind, object.get(doc, ["recipient", "operator"], null)] in {
		["police", null], ["security_police", null], ["customs", null], ["social_services", null],
		["school", "municipal"], ["school", "independent"],
	}
	sender_id := input.sender.id
	is_string(sender_id)
	trim_space(sender_id) != ""
	recipient_id := input.recipient.id
	is_string(recipient_id)
	trim_space(recipient_id) != ""
	is_boolean(input.sender.authority)
	is_boolean(input.recipient.authority)

	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "investigation_status",
		"case_details", "crime_suspicion", "preliminary_investigation", "confiscation",
		"health", "followup_results", "aggregate_statistics",
	}
	object.get(doc, ["claims", "legal_basis_claimed"], null) in {
		null, "R-CONFISCATION", "R-FEEDBACK", "R-FU", "R-CRIME-SUSPECT", "R-1018A",
		"R-LUB-CONTACT", "R-LUB-REQUEST", "R-LUB-OWN", "R-SCHOOL-PUBLIC", "R-POLICE-SCHOOL",
		"R-CONCERN", "R-JOINT-MEETING", "R-FOLLOWUP", "R-DEIDENTIFIED", "R-CONSENT",
		"R-1015A", "R-GENERAL", "R-SCHOOL-CRIME-REPORT", "R-CHILD-INVESTIGATION", "R-FB-SCHOOL",
	}

	reply_to_well_formed

	object.get(doc, ["claims", "forwarded_from"], []) == []
	object.get(doc, "sources", []) == []
}

# reply_to: both absent, or the broker's record of the message replied to.
# (Two bodies, so that the common case of no reply costs two comparisons.)
reply_to_well_formed if {
	object.get(input, ["message", "reply_to"], null) == null
	object.get(input, "reply_to", null) == null
}

reply_to_well_formed if {
	id := input.message.reply_to
	id != null
	input.reply_to.id == id
}

input_problem_details contains "message.id is not 32 lowercase hex digits" if {
	not regex.match(`^[0-9a-f]{32}$`, object.get(input, ["message", "id"], ""))
}

input_problem_details contains "message.created_at is missing or not RFC3339: the decision time is unknown" if {
	not lib.now_ns
}

input_problem_details contains sprintf("unknown message kind %v", [lib.kind]) if {
	not lib.kind in vocab.kinds
}

# Sender and recipient: every problem with them is named.
input_problem_details contains sprintf("unknown %s kind %v", [role, k]) if {
	some role in ["sender", "recipient"]
	k := object.get(input, [role, "kind"], null)
	not k in lib.party_kinds
}

input_problem_details contains sprintf("%s has no id", [role]) if {
	some role in ["sender", "recipient"]
	not lib.non_empty_string(object.get(input, [role, "id"], null))
}

input_problem_details contains sprintf("%s is a school with unknown operator %v (municipal or independent)", [role, op]) if {
	some role in ["sender", "recipient"]
	object.get(input, [role, "kind"], null) == "school"
	op := object.get(input, [role, "operator"], null)
	not op in lib.school_operators
}

input_problem_details contains sprintf("%s of kind %v has operator %v: only schools have one", [role, k, op]) if {
	some role in ["sender", "recipient"]
	k := object.get(input, [role, "kind"], null)
	k in lib.party_kinds
	k != "school"
	op := object.get(input, [role, "operator"], null)
	op != null
}

input_problem_details contains sprintf("%s.authority is not a boolean", [role]) if {
	some role in ["sender", "recipient"]
	not is_boolean(object.get(input, [role, "authority"], null))
}

input_problem_details contains "claims.category is missing" if lib.category == null

input_problem_details contains "claims.category is not a data category the policy knows (see vocab.categories)" if {
	lib.category != null
	not lib.category in vocab.categories
}

input_problem_details contains "claims.legal_basis_claimed does not name a rule the policy knows (R-CONCERN, R-CONSENT, ...)" if {
	b := object.get(input, ["claims", "legal_basis_claimed"], null)
	b != null
	not b in vocab.rule_ids
}

# reply_to: the broker must have resolved the message replied to.
input_problem_details contains sprintf("message replies to %v but the broker has no record of it", [id]) if {
	id := object.get(input, ["message", "reply_to"], null)
	id != null
	object.get(input, ["reply_to", "id"], null) != id
}

input_problem_details contains "input.reply_to is given but the message does not reply to anything" if {
	object.get(input, ["message", "reply_to"], null) == null
	object.get(input, "reply_to", null) != null
}

# Secrecy travels with data.
forwarded_ids contains id if {
	some id in object.get(input, ["claims", "forwarded_from"], [])
}

# The ids are the sender's text until the broker has found them: counted,
# not quoted.
input_problem_details contains sprintf("claims.forwarded_from names %d message(s) the broker has no record of", [count(unknown_forwarded)]) if {
	count(unknown_forwarded) > 0
}

unknown_forwarded := {id |
	some id in forwarded_ids
	not source_ids[id]
}

source_ids contains s.id if {
	some s in object.get(input, "sources", [])
	object.get(s, "known", true) != false
}

input_problem_details contains "claims.forwarded_from must be a list of message ids" if {
	f := object.get(input, ["claims", "forwarded_from"], [])
	f != null
	not is_forward_list(f)
}

is_forward_list(f) if {
	is_array(f)
	every id in f {
		lib.non_empty_string(id)
	}
}

input_problem_details contains sprintf("forwarded message %v was not addressed to the sender", [s.id]) if {
	some s in object.get(input, "sources", [])
	s.recipient != input.sender.id
}

input_problem_details contains sprintf("secrecy travels with data: message %v was received under %v with obligation %q and must not be passed on (%s)", [s.id, s.rule, o, why]) if {
	some s in object.get(input, "sources", [])
	some o in object.get(s, "obligations", [])
	why := vocab.no_forward_obligations[o]
}
