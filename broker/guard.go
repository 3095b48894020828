package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// The replay guard is the audit log: the decision of a message is recorded
// on the subject of its id, and only if that subject holds no decision yet
// (audit.Log.Append), so one envelope id is decided once, for good, without a
// write of its own. Before the policy runs, the guard reads what the log
// holds for the id (one read); the append settles a race between two copies
// sent at once.

// guard is what the pipeline knows of a message's id: the decision that
// holds it when the message arrived, and whether the message came past the
// replay check, so that its decision is to hold the id.
type guard struct {
	claim  *decision.Record
	passed bool
}

// checkReplay decides whether the message may hold its id. The id is free,
// or held by this very inbound message (a redelivery whose decision was not
// recorded yet cannot hold it, so that is a crash between the append and
// the ack, answered before). The same bytes under another inbound sequence
// are a resend, answered with the recorded decision; anything else is a
// replay.
func (g *guard) checkReplay(id string, seq uint64, sum string) *rejection {
	c := g.claim
	if c == nil || (c.InboundSeq == seq && c.EnvelopeSHA256 == sum) {
		g.passed = true
		return nil
	}
	return claimed(c, id, sum)
}

// claimed answers an envelope whose id c holds.
func claimed(c *decision.Record, id, sum string) *rejection {
	if c.EnvelopeSHA256 == sum && c.MessageID == id {
		return &rejection{resend: c}
	}
	return reject(errcode.Replay, "message id %s was already used by inbound message %d; a replayed envelope is never delivered twice", id, c.InboundSeq)
}

// record appends rec to the audit log: as the decision that holds its id
// when the message came past the replay check, else filed under its inbound
// message only. It returns the decision in force, or, when another copy of
// the message took the id first (the race the read before the policy cannot
// see), resend: the decision to answer with instead.
func (b *Broker) record(ctx context.Context, rec *decision.Record, p *audit.Personal, g *guard) (recorded *decision.Record, resend *rejection, err error) {
	if !g.passed {
		recorded, err = b.appendAudit(ctx, rec, p, b.cfg.Audit.AppendUnclaimed)
		return recorded, nil, err
	}
	recorded, err = b.appendAudit(ctx, rec, p, b.cfg.Audit.Append)
	var ce *audit.ClaimedError
	if !errors.As(err, &ce) {
		return recorded, nil, err
	}
	rej := claimed(ce.Record, rec.MessageID, rec.EnvelopeSHA256)
	if rej.resend != nil {
		return nil, rej, nil
	}
	// A replay after all: record the refusal, and nothing of what the
	// policy said about it.
	replay := &decision.Record{
		DecisionID: rec.DecisionID, InboundSeq: rec.InboundSeq, EnvelopeSHA256: rec.EnvelopeSHA256,
		DecidedAt: rec.DecidedAt, MessageID: rec.MessageID, Sender: rec.Sender, Recipient: rec.Recipient,
		Kind: rec.Kind, CreatedAt: rec.CreatedAt, ReplyTo: rec.ReplyTo,
		Outcome: decision.Rejected, ErrorCode: rej.code, Reasons: []string{rej.reason},
	}
	*rec = *replay
	recorded, err = b.appendAudit(ctx, rec, nil, b.cfg.Audit.AppendUnclaimed)
	if err != nil {
		return nil, nil, fmt.Errorf("record the refusal of a replay: %w", err)
	}
	return recorded, nil, nil
}
