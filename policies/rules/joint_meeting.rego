# R-JOINT-MEETING: school, police and social services may meet and share
# secret data about a child when the guardian, and the child where required,
# consent (Q10). The consent must cover every participant.
package sekretess.rules.joint_meeting

import data.sekretess.consent
import data.sekretess.lib

basis := "OSL 12 kap. 2-3 §§"

participants := {p | some p in lib.claim(["meeting", "participants"])}

# Message kinds the rule covers.
kinds := {"meeting"}

scope contains "message kind is not meeting" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "response", "disclosure", "concern_report", "feedback", "report",
		"consultation", "followup",
	}
}

scope contains "message kind is not meeting" if lib.kind_unknown

conditions contains "the meeting lists no participants (claims.meeting.participants)" if count(participants) == 0

conditions contains sprintf("%s is not a listed participant", [role]) if {
	count(participants) > 0
	some role in ["sender", "recipient"]
	not input[role].id in participants
}

conditions contains r if some r in consent.problems

# The participants are the sender's text: counted, not quoted.
conditions contains sprintf("consent does not cover %d of the participants (claims.meeting.participants): it must name every one but the sender (consent.recipients)", [count(uncovered)]) if {
	consent.present
	count(uncovered) > 0
}

uncovered := {p |
	some p in participants
	p != input.sender.id
	not p in consent.recipients
}

obligations := {"within-consent-scope"}

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	input.message.kind in {"meeting"} # = kinds, see kinds_test.rego
	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
