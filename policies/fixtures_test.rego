# Parties and base inputs shared by the tests.
package sekretess_test.fixtures

police := {"id": "polisen-syd", "kind": "police", "authority": true, "name": "Polismyndigheten, region Syd"}

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
