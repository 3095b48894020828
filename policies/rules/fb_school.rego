# R-FB-SCHOOL: from 2026-01-15 everyone working in an activity under
# skollagen (municipal or independent) must, when social services ask, give
# information that can matter for a question of custody, residence or contact
# (vårdnad, boende, umgänge), when social services are to give the court
# information or investigate under föräldrabalken 6 kap. 19 or 20 §, or the
# one they appointed to investigate under 19 § asks (föräldrabalken 6 kap.
# 20 c §, SFS 2025:1490). Elevhälsa's school doctors, school nurses,
# psychologists and counsellors are exempt (20 c § andra stycket): they and
# elevhälsa's medical and psychological records need consent. Covers social
# services' request and the school's answer.
package sekretess.rules.fb_school

import data.sekretess.lib
import data.sekretess.vocab

basis := "föräldrabalken 6 kap. 20 c §"

scope contains lib.not_in_force_reason("2026-01-15") if not lib.fb_6_20c_in_force

# Message kinds the rule covers.
kinds := {"request", "response"}

scope contains "message kind is not request or response" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"disclosure", "concern_report", "feedback", "report", "consultation", "meeting",
		"followup",
	}
}

scope contains "message kind is not request or response" if lib.kind_unknown

scope contains "a request comes from social services to a school" if {
	input.message.kind == "request"
	not request_parties
}

request_parties if {
	input.sender.kind == "social_services"
	input.recipient.kind == "school"
}

scope contains "the answer goes from a school to social services" if {
	input.message.kind == "response"
	not response_parties
}

response_parties if {
	input.sender.kind == "school"
	input.recipient.kind == "social_services"
}

# What social services are doing: giving the court information (föräldrabalken
# 6 kap. 19 § andra stycket, 20 §) or investigating (19 § tredje stycket).
tasks := {"information", "investigation"}

matters := {"custody", "residence", "contact"}

conditions contains sprintf("claims.custody_case.task must be information or investigation (föräldrabalken 6 kap. 19 or 20 §), not %s", [lib.shown(t, tasks)]) if {
	input.message.kind == "request"
	t := lib.claim(["custody_case", "task"])
	not t in tasks
}

conditions contains sprintf("claims.custody_case.matter must be custody, residence or contact, not %s", [lib.shown(m, matters)]) if {
	input.message.kind == "request"
	m := lib.claim(["custody_case", "matter"])
	not m in matters
}

conditions contains "must answer a request social services made to this sender under föräldrabalken 6 kap. 20 c § (message.reply_to, allowed under R-FB-SCHOOL)" if {
	input.message.kind == "response"
	not answers_fb_request
}

answers_fb_request if {
	lib.answers_request_from_recipient
	input.reply_to.rule == "R-FB-SCHOOL"
}

conditions contains sprintf("category %s is not data held in the school's activity; elevhälsa's medical and psychological records are outside the duty (föräldrabalken 6 kap. 20 c § andra stycket) and need consent (R-CONSENT)", [lib.category_shown]) if {
	input.message.kind == "response"
	not lib.category in vocab.school_categories
}

# 20 c § andra stycket: elevhälsa's medical, psychological and
# psychosocial staff have no duty under the section.
exempt_roles := {"school_doctor", "school_nurse", "psychologist", "counsellor"}

conditions contains sprintf("the sender's role %s in elevhälsa is exempt from the duty (föräldrabalken 6 kap. 20 c § andra stycket): give the data with consent (R-CONSENT)", [lib.sender_role]) if {
	input.message.kind == "response"
	lib.sender_role in exempt_roles
}

obligations := set()

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"request", "response"} # = kinds, see kinds_test.rego

	# Quick exits (see quick_exit).
	not quick_exit

	count(scope) == 0
	count(conditions) == 0
}

# Quick exits from `allow`: a party of a known kind that the scope excludes
# (guards_test.rego checks that it does) or a known category that a
# condition excludes (contract_test.rego checks that one does). A missing or
# unknown party or category never exits here: the scope and conditions name
# it. Each body tests the input itself, so OPA's rule index picks the bodies
# that apply without evaluating the others.
quick_exit if {
	input.message.kind == "request"
	input.sender.kind in {"school", "police"}
}

quick_exit if {
	input.message.kind == "response"
	input.sender.kind in {"social_services", "police"}
}

quick_exit if {
	input.message.kind == "request"
	input.recipient.kind in {"social_services", "police"}
}

quick_exit if {
	input.message.kind == "response"
	input.recipient.kind in {"school", "police"}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
