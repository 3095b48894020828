# Each rule's `allow` names its kinds twice: in `kinds` (which the scope
# reason uses) and as a literal set in its first expression, which OPA's rule
# index can use. These tests check that both agree: with scope and conditions
# empty, a rule allows exactly the kinds in its `kinds`.
package sekretess_test.kinds

import data.sekretess.vocab

test_kind_guard_concern if {
	every k in vocab.kinds {
		a := data.sekretess.rules.concern.allow with input.message.kind as k
			with data.sekretess.rules.concern.scope as set()
			with data.sekretess.rules.concern.conditions as set()
		covered := k in data.sekretess.rules.concern.kinds
		a == covered
	}
}

test_kind_guard_confiscation if {
	every k in vocab.kinds {
		a := data.sekretess.rules.confiscation.allow with input.message.kind as k
			with data.sekretess.rules.confiscation.scope as set()
			with data.sekretess.rules.confiscation.conditions as set()
		covered := k in data.sekretess.rules.confiscation.kinds
		a == covered
	}
}

test_kind_guard_consent if {
	every k in vocab.kinds {
		a := data.sekretess.rules.consent.allow with input.message.kind as k
			with data.sekretess.rules.consent.scope as set()
			with data.sekretess.rules.consent.conditions as set()
		covered := k in data.sekretess.rules.consent.kinds
		a == covered
	}
}

test_kind_guard_crime_suspect if {
	every k in vocab.kinds {
		a := data.sekretess.rules.crime_suspect.allow with input.message.kind as k
			with data.sekretess.rules.crime_suspect.scope as set()
			with data.sekretess.rules.crime_suspect.conditions as set()
		covered := k in data.sekretess.rules.crime_suspect.kinds
		a == covered
	}
}

test_kind_guard_deidentified if {
	every k in vocab.kinds {
		a := data.sekretess.rules.deidentified.allow with input.message.kind as k
			with data.sekretess.rules.deidentified.scope as set()
			with data.sekretess.rules.deidentified.conditions as set()
		covered := k in data.sekretess.rules.deidentified.kinds
		a == covered
	}
}

test_kind_guard_feedback if {
	every k in vocab.kinds {
		a := data.sekretess.rules.feedback.allow with input.message.kind as k
			with data.sekretess.rules.feedback.scope as set()
			with data.sekretess.rules.feedback.conditions as set()
		covered := k in data.sekretess.rules.feedback.kinds
		a == covered
	}
}

test_kind_guard_followup if {
	every k in vocab.kinds {
		a := data.sekretess.rules.followup.allow with input.message.kind as k
			with data.sekretess.rules.followup.scope as set()
			with data.sekretess.rules.followup.conditions as set()
		covered := k in data.sekretess.rules.followup.kinds
		a == covered
	}
}

test_kind_guard_fu if {
	every k in vocab.kinds {
		a := data.sekretess.rules.fu.allow with input.message.kind as k
			with data.sekretess.rules.fu.scope as set()
			with data.sekretess.rules.fu.conditions as set()
		covered := k in data.sekretess.rules.fu.kinds
		a == covered
	}
}

test_kind_guard_general_clause if {
	every k in vocab.kinds {
		a := data.sekretess.rules.general_clause.allow with input.message.kind as k
			with data.sekretess.rules.general_clause.scope as set()
			with data.sekretess.rules.general_clause.conditions as set()
		covered := k in data.sekretess.rules.general_clause.kinds
		a == covered
	}
}

test_kind_guard_joint_meeting if {
	every k in vocab.kinds {
		a := data.sekretess.rules.joint_meeting.allow with input.message.kind as k
			with data.sekretess.rules.joint_meeting.scope as set()
			with data.sekretess.rules.joint_meeting.conditions as set()
		covered := k in data.sekretess.rules.joint_meeting.kinds
		a == covered
	}
}

test_kind_guard_lub_contact if {
	every k in vocab.kinds {
		a := data.sekretess.rules.lub_contact.allow with input.message.kind as k
			with data.sekretess.rules.lub_contact.scope as set()
			with data.sekretess.rules.lub_contact.conditions as set()
		covered := k in data.sekretess.rules.lub_contact.kinds
		a == covered
	}
}

test_kind_guard_lub_own if {
	every k in vocab.kinds {
		a := data.sekretess.rules.lub_own.allow with input.message.kind as k
			with data.sekretess.rules.lub_own.scope as set()
			with data.sekretess.rules.lub_own.conditions as set()
		covered := k in data.sekretess.rules.lub_own.kinds
		a == covered
	}
}

test_kind_guard_lub_request if {
	every k in vocab.kinds {
		a := data.sekretess.rules.lub_request.allow with input.message.kind as k
			with data.sekretess.rules.lub_request.scope as set()
			with data.sekretess.rules.lub_request.conditions as set()
		covered := k in data.sekretess.rules.lub_request.kinds
		a == covered
	}
}

test_kind_guard_osl_10_15a if {
	every k in vocab.kinds {
		a := data.sekretess.rules.osl_10_15a.allow with input.message.kind as k
			with data.sekretess.rules.osl_10_15a.scope as set()
			with data.sekretess.rules.osl_10_15a.conditions as set()
		covered := k in data.sekretess.rules.osl_10_15a.kinds
		a == covered
	}
}

test_kind_guard_osl_10_18a if {
	every k in vocab.kinds {
		a := data.sekretess.rules.osl_10_18a.allow with input.message.kind as k
			with data.sekretess.rules.osl_10_18a.scope as set()
			with data.sekretess.rules.osl_10_18a.conditions as set()
		covered := k in data.sekretess.rules.osl_10_18a.kinds
		a == covered
	}
}

test_kind_guard_police_school if {
	every k in vocab.kinds {
		a := data.sekretess.rules.police_school.allow with input.message.kind as k
			with data.sekretess.rules.police_school.scope as set()
			with data.sekretess.rules.police_school.conditions as set()
		covered := k in data.sekretess.rules.police_school.kinds
		a == covered
	}
}

test_kind_guard_school_public if {
	every k in vocab.kinds {
		a := data.sekretess.rules.school_public.allow with input.message.kind as k
			with data.sekretess.rules.school_public.scope as set()
			with data.sekretess.rules.school_public.conditions as set()
		covered := k in data.sekretess.rules.school_public.kinds
		a == covered
	}
}

test_kind_guard_school_crime_report if {
	every k in vocab.kinds {
		a := data.sekretess.rules.school_crime_report.allow with input.message.kind as k
			with data.sekretess.rules.school_crime_report.scope as set()
			with data.sekretess.rules.school_crime_report.conditions as set()
		covered := k in data.sekretess.rules.school_crime_report.kinds
		a == covered
	}
}

test_kind_guard_fb_school if {
	every k in vocab.kinds {
		a := data.sekretess.rules.fb_school.allow with input.message.kind as k
			with data.sekretess.rules.fb_school.scope as set()
			with data.sekretess.rules.fb_school.conditions as set()
		covered := k in data.sekretess.rules.fb_school.kinds
		a == covered
	}
}

test_kind_guard_child_investigation if {
	every k in vocab.kinds {
		a := data.sekretess.rules.child_investigation.allow with input.message.kind as k
			with data.sekretess.rules.child_investigation.scope as set()
			with data.sekretess.rules.child_investigation.conditions as set()
		covered := k in data.sekretess.rules.child_investigation.kinds
		a == covered
	}
}

# vocab.rules_by_kind lists, for every kind, exactly the rules whose `kinds`
# include it, in precedence order, with their packages.
test_rules_by_kind if {
	object.keys(vocab.rules_by_kind) == vocab.kinds
	every k in vocab.kinds {
		want := [[id, pkg] |
			some id in vocab.precedence
			pkg := vocab.packages[id]
			k in data.sekretess.rules[pkg].kinds
		]
		vocab.rules_by_kind[k] == want
	}
}

# Each rule's scope names the kinds it does not cover with a literal as well:
# it says the kind is not covered exactly for the kinds not in `kinds`.
test_scope_kind_reason if {
	every _, pkg in vocab.packages {
		every k in vocab.kinds | {"unknown", null} {
			s := data.sekretess.rules[pkg].scope with input as {"message": {"kind": k}}
			said := {r | some r in s; startswith(r, "message kind is not ")}
			covered(k, data.sekretess.rules[pkg].kinds) == empty(said)
		}
	}
}

test_scope_kind_reason_missing_kind if {
	every _, pkg in vocab.packages {
		s := data.sekretess.rules[pkg].scope with input as {"message": {}}
		some r in s
		startswith(r, "message kind is not ")
	}
}

covered(k, kinds) if k in kinds

else := false

empty(s) if count(s) == 0

else := false
