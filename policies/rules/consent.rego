# R-CONSENT: secret data may be given within the scope of a valid consent
# (OSL 12 kap. 2-3 §§): documented, specific about the data, the recipient
# and the purpose, not withdrawn before the message was created or decided
# (input.decided_at), given by the guardians
# (and the child where age and maturity require it) for a child under 18, by
# the person alone from 18 (Q16-Q18).
package sekretess.rules.consent

import data.sekretess.consent
import data.sekretess.lib

basis := "OSL 12 kap. 2-3 §§"

# Message kinds the rule covers.
kinds := {"disclosure", "response", "feedback", "followup"}

scope contains "message kind is not disclosure, response, feedback or followup" if {
	# The known kinds outside `kinds` (kinds_test.rego checks them).
	input.message.kind in {
		"request", "concern_report", "report", "consultation", "meeting",
	}
}

scope contains "message kind is not disclosure, response, feedback or followup" if lib.kind_unknown

conditions contains r if some r in consent.problems

conditions contains sprintf("consent does not name the recipient %v", [input.recipient.id]) if {
	consent.present
	not input.recipient.id in consent.recipients
}

obligations := {"within-consent-scope"}

# See "rules" in lib.rego. The kind comes first: for other kinds the rule
# index skips the body, so neither scope nor conditions are evaluated.
default allow := false

allow if {
	# = kinds, see kinds_test.rego
	input.message.kind in {
		"disclosure", "response", "feedback", "followup",
	}
	count(scope) == 0
	count(conditions) == 0
}

reasons := scope if {
	count(scope) > 0
} else := conditions
