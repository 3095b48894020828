# The party guards at the start of some rules' `allow` (after the kind) are
# quick exits: they must only exclude messages that the rule's scope excludes
# anyway. With the conditions met, `allow` holds exactly when the scope is
# empty, for every covered kind and every pair of parties.
package sekretess_test.guards

import data.sekretess_test.fixtures as f

parties := [
	f.police, f.security_police, f.customs, f.municipal_school, f.independent_school, f.social_services,
	{"id": "x", "authority": true}, {"id": "y", "kind": "other", "authority": true},
]

msg(k, s, r) := {
	"message": {"id": f.msg_id, "kind": k, "created_at": f.t},
	"sender": s,
	"recipient": r,
	"claims": {},
}

empty(s) if count(s) == 0

else := false

test_party_guard_concern if {
	every k in data.sekretess.rules.concern.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.concern.allow with input as msg(k, s, r)
					with data.sekretess.rules.concern.conditions as set()
				scope := data.sekretess.rules.concern.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_confiscation if {
	every k in data.sekretess.rules.confiscation.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.confiscation.allow with input as msg(k, s, r)
					with data.sekretess.rules.confiscation.conditions as set()
				scope := data.sekretess.rules.confiscation.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_crime_suspect if {
	every k in data.sekretess.rules.crime_suspect.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.crime_suspect.allow with input as msg(k, s, r)
					with data.sekretess.rules.crime_suspect.conditions as set()
				scope := data.sekretess.rules.crime_suspect.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_feedback if {
	every k in data.sekretess.rules.feedback.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.feedback.allow with input as msg(k, s, r)
					with data.sekretess.rules.feedback.conditions as set()
				scope := data.sekretess.rules.feedback.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_followup if {
	every k in data.sekretess.rules.followup.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.followup.allow with input as msg(k, s, r)
					with data.sekretess.rules.followup.conditions as set()
				scope := data.sekretess.rules.followup.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_fu if {
	every k in data.sekretess.rules.fu.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.fu.allow with input as msg(k, s, r)
					with data.sekretess.rules.fu.conditions as set()
				scope := data.sekretess.rules.fu.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_lub_contact if {
	every k in data.sekretess.rules.lub_contact.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.lub_contact.allow with input as msg(k, s, r)
					with data.sekretess.rules.lub_contact.conditions as set()
				scope := data.sekretess.rules.lub_contact.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_lub_own if {
	every k in data.sekretess.rules.lub_own.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.lub_own.allow with input as msg(k, s, r)
					with data.sekretess.rules.lub_own.conditions as set()
				scope := data.sekretess.rules.lub_own.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_lub_request if {
	every k in data.sekretess.rules.lub_request.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.lub_request.allow with input as msg(k, s, r)
					with data.sekretess.rules.lub_request.conditions as set()
				scope := data.sekretess.rules.lub_request.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_osl_10_18a if {
	every k in data.sekretess.rules.osl_10_18a.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.osl_10_18a.allow with input as msg(k, s, r)
					with data.sekretess.rules.osl_10_18a.conditions as set()
				scope := data.sekretess.rules.osl_10_18a.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_police_school if {
	every k in data.sekretess.rules.police_school.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.police_school.allow with input as msg(k, s, r)
					with data.sekretess.rules.police_school.conditions as set()
				scope := data.sekretess.rules.police_school.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_school_public if {
	every k in data.sekretess.rules.school_public.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.school_public.allow with input as msg(k, s, r)
					with data.sekretess.rules.school_public.conditions as set()
				scope := data.sekretess.rules.school_public.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_school_crime_report if {
	every k in data.sekretess.rules.school_crime_report.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.school_crime_report.allow with input as msg(k, s, r)
					with data.sekretess.rules.school_crime_report.conditions as set()
				scope := data.sekretess.rules.school_crime_report.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_fb_school if {
	every k in data.sekretess.rules.fb_school.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.fb_school.allow with input as msg(k, s, r)
					with data.sekretess.rules.fb_school.conditions as set()
				scope := data.sekretess.rules.fb_school.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}

test_party_guard_child_investigation if {
	every k in data.sekretess.rules.child_investigation.kinds {
		every s in parties {
			every r in parties {
				a := data.sekretess.rules.child_investigation.allow with input as msg(k, s, r)
					with data.sekretess.rules.child_investigation.conditions as set()
				scope := data.sekretess.rules.child_investigation.scope with input as msg(k, s, r)
				a == empty(scope)
			}
		}
	}
}
