# R-FEEDBACK: social services tell the reporter of a concern whether an
# investigation was opened, not opened or is already ongoing (Q9), when the
# reporter asked and it is not inappropriate (e.g. the guardian has not yet
# been told). Anything beyond the status needs R-CONSENT.
package sekretess.rules.feedback

import data.sekretess.lib

basis := lib.sol(
	"SoL (2001:453) 14 kap. 1 b §",
	"SoL (2025:400), motsvarande 14 kap. 1 b § SoL (2001:453)",
)

statuses := {"opened", "not_opened", "ongoing"}

# Message kinds the rule covers.
kinds := {"feedback"}

scope contains "message kind is not feedback" if {
	not lib.kind in {"feedback"} # = kinds, see kinds_test.rego
}

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

conditions contains "the reporter has not asked for feedback (claims.feedback_requested)" if {
	lib.claim(["feedback_requested"]) != true
}

conditions contains r if {
	some r in lib.judgement_problems(lib.claim(["feedback_assessment"]), "assessment that feedback is not inappropriate (claims.feedback_assessment)", "appropriate")
}

conditions contains "inappropriate: the guardian has not yet been told that an investigation was opened (Q9)" if {
	lib.claim(["guardian_informed"]) == false
}

obligations := {"status-only"}

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"feedback"} # = kinds, see kinds_test.rego

	# Quick exit for parties of a known kind the scope excludes
	# (guards_test.rego checks that the scope excludes them).
	lib.sender_kind != "police"
	lib.sender_kind != "school"

	# Quick exit for categories a condition excludes
	# (contract_test.rego checks that one does).
	lib.category in {"investigation_status", null}

	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
