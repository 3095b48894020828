# Parties and base inputs shared by the tests.
package sekretess_test.fixtures

police := {"id": "polisen-syd", "kind": "police", "authority": true, "name": "Polismyndigheten, region Syd"}

security_police := {"id": "sakerhetspolisen", "kind": "security_police", "authority": true, "name": "Säkerhetspolisen"}

customs := {"id": "tullverket", "kind": "customs", "authority": true, "name": "Tullverket"}

municipal_school := {"id": "skola-ostra", "kind": "school", "operator": "municipal", "authority": true, "name": "Östra skolan"}

independent_school := {"id": "skola-fri", "kind": "school", "operator": "independent", "authority": false, "name": "Friskolan Norr AB"}

social_services := {"id": "soc-malmo", "kind": "social_services", "authority": true, "name": "Socialtjänsten Malmö"}

msg_id := "0123456789abcdef0123456789abcdef"

req_id := "fedcba9876543210fedcba9876543210"

# A message from sender to recipient of kind at time t with claims c.
msg(sender, recipient, kind, t, c) := {
	"message": {"id": msg_id, "kind": kind, "created_at": t},
	"sender": sender,
	"recipient": recipient,
	"claims": c,
}

# The same, replying to the broker's record rec.
reply(sender, recipient, kind, t, c, rec) := object.union(
	msg(sender, recipient, kind, t, c),
	{"message": {"id": msg_id, "kind": kind, "created_at": t, "reply_to": rec.id}, "reply_to": rec},
)

# The broker's record of a request from `from` to `to`.
request_record(from, to, rule, category) := {
	"id": req_id,
	"kind": "request",
	"sender": from.id,
	"recipient": to.id,
	"created_at": "2025-05-01T08:00:00+02:00",
	"allow": true,
	"rule": rule,
	"category": category,
}

judgement(outcome) := {"by": "Anna Rektor", "at": "2025-05-01T09:00:00+02:00", "outcome": outcome, "reason": "documented in the case file"}

t := "2026-01-15T10:00:00+01:00"

# A reason containing the text s.
has_reason(d, s) if {
	some r in d.reasons
	contains(r, s)
}

concern_record(from, to) := {
	"id": req_id,
	"kind": "concern_report",
	"sender": from.id,
	"recipient": to.id,
	"created_at": "2025-11-01T08:00:00+01:00",
	"allow": true,
	"rule": "R-CONCERN",
	"category": "concern",
}

valid_consent(recipients, cats) := {
	"id": "samtycke-1",
	"subject": {"pseudonym": "p-1", "birth_date": "2011-05-05"},
	"categories": cats,
	"recipients": recipients,
	"purpose": "samordnat stöd",
	"given_by": [{"role": "guardian", "at": "2025-12-01T09:00:00+01:00"}],
	"guardian_count": 1,
	"maturity_assessment": {"by": "Handläggare Berg", "at": "2025-12-01T09:05:00+01:00", "outcome": "child_consent_not_required"},
	"documented": {"how": "oral", "by": "Handläggare Berg", "at": "2025-12-01T09:05:00+01:00"},
	"valid_from": "2025-12-01T00:00:00+01:00",
	"valid_until": "2026-12-01T00:00:00+01:00",
}
