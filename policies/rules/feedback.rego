# R-FEEDBACK: social services tell the reporter of a concern whether an
# investigation was opened, not opened or is already ongoing (Q9), when the
# reporter asked and it is not inappropriate (e.g. the guardian has not yet
# been told). Anything beyond the status needs R-CONSENT. Basis: SoL
# (2001:453) 14 kap. 1 b § until 2025-06-30, SoL (2025:400) 19 kap. 6 §
# from 2025-07-01, which gives feedback only to a reporter under 19 kap.
# 1-3 §§ (lib.mandatory_reporter). From 2026-01-15 (SFS 2025:1501) the
# feedback asked for is due at the latest one week after social services
# decided whether to open an investigation, or at once when asked later or
# when an investigation is already under way; a late feedback is still
# lawful, so the decision records the deadline and whether it was kept as an
# obligation, and never refuses for it. From the same day the feedback is
# secret at the reporter (OSL 40 kap. 7 g §).
package sekretess.rules.feedback

import data.sekretess.lib

basis := lib.sol(
	"SoL (2001:453) 14 kap. 1 b §",
	"SoL (2025:400) 19 kap. 6 §",
)

statuses := {"opened", "not_opened", "ongoing"}

# Message kinds the rule covers.
kinds := {"feedback"}

scope contains "message kind is not feedback" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "disclosure", "concern_report", "report", "consultation",
		"meeting", "followup",
	}
}

scope contains "message kind is not feedback" if lib.kind_unknown

scope contains "feedback is given by social services" if lib.sender_kind != "social_services"

conditions contains sprintf("category must be investigation_status, not %s: anything beyond the status needs consent (R-CONSENT)", [lib.category_shown]) if {
	lib.category != "investigation_status"
}

conditions contains sprintf("claims.investigation_status must be one of opened, not_opened, ongoing, not %s", [lib.shown(s, statuses)]) if {
	s := lib.claim(["investigation_status"])
	not s in statuses
}

conditions contains "must reply to a report of concern that the recipient made to this sender" if not replies_to_own_concern

replies_to_own_concern if {
	r := input.reply_to
	r.kind == "concern_report"
	r.sender == input.recipient.id
	r.recipient == input.sender.id
	r.allow == true
}

# SoL (2025:400) 19 kap. 6 §: feedback to a reporter under 19 kap. 1-3 §§.
# The report's own date decides whether SoL named the reporter.
conditions contains "the recipient did not report under a duty of SoL (2025:400) 19 kap. 1-3 §§: only such a reporter gets feedback (19 kap. 6 §)" if {
	lib.sol_2025_in_force
	not lib.mandatory_reporter(lib.recipient_kind, report_ns)
}

report_ns := ns if {
	ns := time.parse_rfc3339_ns(input.reply_to.created_at)
} else := lib.now_ns

conditions contains "the reporter has not asked for feedback (claims.feedback_requested)" if {
	lib.claim(["feedback_requested"]) != true
}

conditions contains r if {
	some r in lib.judgement_problems(lib.claim(["feedback_assessment"]), "assessment that feedback is not inappropriate (claims.feedback_assessment)", "appropriate")
}

conditions contains "inappropriate: the guardian has not yet been told that an investigation was opened (Q9)" if {
	input.claims.guardian_informed == false
}

obligations := ({"status-only"} | deadline) | secrecy

secrecy := {lib.secret_at_reporter_obligation} if {
	lib.osl_40_7g_in_force
} else := set()

# The one-week deadline of SoL (2025:400) 19 kap. 6 § andra stycket, from
# 2026-01-15, as information: when the feedback was due and whether this
# message kept to it. The times are the broker's own record of the report
# (the request for feedback comes with it unless claims.feedback_requested_at
# says it came later) and claims.investigation_decided_at, the day social
# services decided whether to open an investigation.
deadline := set() if {
	not lib.sol_2025_1501_in_force
} else := {"feedback deadline: at once, an investigation is already under way (SoL (2025:400) 19 kap. 6 § andra stycket)"} if {
	input.claims.investigation_status == "ongoing"
} else := {"feedback deadline: one week after the decision whether to open an investigation; not checked, claims.investigation_decided_at is missing or not RFC3339 (SoL (2025:400) 19 kap. 6 § andra stycket)"} if {
	not decided_ns
} else := {"feedback deadline: at once, asked for after the week following the decision whether to open an investigation (SoL (2025:400) 19 kap. 6 § andra stycket)"} if {
	requested_ns > decided_ns + week_ns
} else := {"feedback deadline: one week after the decision whether to open an investigation; kept (SoL (2025:400) 19 kap. 6 § andra stycket)"} if {
	lib.now_ns <= decided_ns + week_ns
} else := {"feedback deadline: one week after the decision whether to open an investigation; passed, the feedback is late but still lawful (SoL (2025:400) 19 kap. 6 § andra stycket)"}

week_ns := ((7 * 24) * 3600) * 1000000000

decided_ns := time.parse_rfc3339_ns(lib.claim(["investigation_decided_at"]))

requested_ns := ns if {
	ns := time.parse_rfc3339_ns(lib.claim(["feedback_requested_at"]))
} else := report_ns

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"feedback"} # = kinds, see kinds_test.rego

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
	input.sender.kind in {"police", "school"}
}

quick_exit if {
	input.claims.category in {
		"enrolment", "class_list", "school_catalogue", "contact_details", "attendance",
		"grades", "pupil_welfare", "risk_environment", "concern", "case_details",
		"crime_suspicion", "preliminary_investigation", "confiscation", "health",
		"followup_results", "aggregate_statistics",
	}
}

reasons := scope if {
	count(scope) > 0
} else := conditions
