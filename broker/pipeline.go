package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
)

// maxForwardedSources bounds claims.forwarded_from: each id costs a read
// of the audit log.
const maxForwardedSources = 64

// retryDelay is how long a message waits before it is retried after an
// internal failure (audit or JetStream unavailable). It is never dropped.
const retryDelay = 2 * time.Second

// readPatience is how long a message waits for an unavailable audit log
// or consent registry before it is refused or handed back: long enough for
// a stream to elect a new leader and for a call to it to time out
// (defaults.CallTimeout).
const readPatience = 15 * time.Second

// auditUnavailable refuses a message whose earlier message's record exists
// but cannot be read: the policy must not decide without it.
func auditUnavailable(id string, err error) *rejection {
	return reject(errcode.AuditUnavailable, "the audit record of message %s could not be read (%v); send the message again later", id, err)
}

// rejection is a message refused before the policy could decide it, or,
// with resend set, an envelope sent again after it was decided.
type rejection struct {
	code   string
	reason string
	// resend is set for an envelope whose exact bytes were stored before
	// under another inbound sequence: the sender sent it again (after a lost
	// receipt, a restart, or an idempotent retry). It gets the recorded
	// decision's receipt again, never a second delivery nor a replay
	// refusal.
	resend *decision.Record
	// held, when set, means the message is not refused but held undecided:
	// the policy could not decide it, and its patience is not over.
	held error
}

func reject(code string, format string, args ...any) *rejection {
	return &rejection{code: code, reason: fmt.Sprintf(format, args...)}
}

// handle runs the whole pipeline for one inbound message.
func (b *Broker) handle(m jetstream.Msg) {
	start := time.Now()
	if mt := b.cfg.Metrics; mt != nil {
		mt.InFlight.Inc()
		defer func() {
			mt.InFlight.Dec()
			mt.PipelineSeconds.Observe(time.Since(start).Seconds())
		}()
	}
	ctx, cancel := context.WithTimeout(b.base, defaults.MessageTimeout)
	defer cancel()
	// JetStream hands the message to another broker after AckWait unless
	// told that this one is still at it: a dead broker's messages are taken
	// over after AckWait, a live one's are not, however long a step takes.
	defer keepInProgress(m)()

	meta, err := m.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to record it against.
		b.cfg.Logger.Error("broker: inbound message without metadata", "err", err)
		_ = m.Term()
		return
	}
	seq := meta.Sequence.Stream
	// Parsed once: its id files the record, and decide reads the rest. One
	// that does not parse has no id and is refused by decide.
	env, parseErr := envelope.Parse(m.Data(), b.cfg.MaxEnvelope)
	id := ""
	if parseErr == nil {
		id = env.Header.ID
	}
	// What the log holds for this inbound message, and the decision that
	// holds its id (the replay guard, guard.go).
	var rec, claim *decision.Record
	patience, cancelPatience := context.WithTimeout(ctx, readPatience)
	err = b.call(patience, func(ctx context.Context) (err error) {
		rec, claim, err = b.cfg.Audit.Lookup(ctx, seq, id)
		return err
	})
	cancelPatience()
	if err != nil {
		// Decided before, but the record cannot be read now: deciding again
		// could contradict it, so wait for the log.
		b.cfg.Logger.Error("broker: recorded decision unreadable; message will be retried", "seq", seq, "err", err)
		_ = m.NakWithDelay(retryDelay)
		return
	}
	if rec != nil && rec.EnvelopeSHA256 != envelope.Hash(m.Data()) {
		// The inbound sequence was used before by another envelope: the
		// inbound stream was recreated. This one is new; decide it.
		b.cfg.Logger.Warn("broker: inbound sequence recorded for another envelope (was the inbound stream recreated?); deciding this one afresh",
			"seq", seq, "recorded_decision", rec.DecisionID)
		rec = nil
	}
	if rec != nil {
		// Decided before a crash or a lost ack: finish what was recorded.
		if b.cfg.Metrics != nil {
			b.cfg.Metrics.Redeliveries.Inc()
		}
		b.finish(ctx, m, rec, m.Data())
		return
	}
	g := &guard{claim: claim}
	rec, personal, undecided := b.decide(ctx, m, env, parseErr, seq, meta.Timestamp, g)
	if undecided != nil && undecided.held != nil {
		// Neither recorded nor acknowledged: JetStream hands the message out
		// again, and a mended policy decides it.
		_ = m.NakWithDelay(defaults.PolicyHoldRetry)
		return
	}
	if undecided != nil {
		b.answerResend(ctx, m, seq, undecided)
		return
	}
	recorded, resend, err := b.record(ctx, rec, personal, g)
	if resend != nil {
		b.answerResend(ctx, m, seq, resend)
		return
	}
	if err != nil {
		// Back-pressure: no delivery and no ack without the record. JetStream
		// hands the message out again once the delay is over.
		b.cfg.Logger.Error("broker: audit append failed; message will be retried", "seq", seq, "err", err)
		_ = m.NakWithDelay(retryDelay)
		return
	}
	b.rate.settle(seq)
	b.held.forget(seq)
	if recorded.EnvelopeSHA256 != rec.EnvelopeSHA256 {
		// Never act on another envelope's decision (the dedupe key names
		// the envelope, so this is a broken log, not a race).
		b.cfg.Logger.Error("broker: the audit log answered with another envelope's record; message will be retried",
			"seq", seq, "recorded_decision", recorded.DecisionID)
		_ = m.NakWithDelay(retryDelay)
		return
	}
	if recorded.DecisionID != rec.DecisionID {
		// Another broker, or this one before a lost ack, recorded it first.
		if b.cfg.Metrics != nil {
			b.cfg.Metrics.Redeliveries.Inc()
		}
	} else {
		b.count(rec)
	}
	b.finish(ctx, m, recorded, m.Data())
}

func (b *Broker) appendAudit(ctx context.Context, rec *decision.Record, p *audit.Personal,
	appendTo func(context.Context, *decision.Record, *audit.Personal) (*decision.Record, error)) (*decision.Record, error) {
	t := time.Now()
	recorded, err := appendTo(ctx, rec, p)
	var ce *audit.ClaimedError
	if errors.As(err, &ce) {
		// Not a failure of the log: the message's id is taken.
		return recorded, err
	}
	if mt := b.cfg.Metrics; mt != nil {
		mt.AuditSeconds.Observe(time.Since(t).Seconds())
		if err != nil {
			mt.AuditFailures.Inc()
		}
		// The log's health, not this append's result: an append that
		// timed out late says nothing about the ones that succeeded since.
		if b.cfg.Audit.Err() != nil {
			mt.AuditBlocked.Set(1)
		} else {
			mt.AuditBlocked.Set(0)
		}
	}
	return recorded, err
}

func (b *Broker) count(rec *decision.Record) {
	mt := b.cfg.Metrics
	if mt == nil {
		return
	}
	rule := rec.Rule
	if rule == "" {
		rule = "none"
	}
	mt.Decisions.WithLabelValues(rec.Outcome, rule).Inc()
	if !rec.Allowed() {
		code := rec.ErrorCode
		if code == "" {
			code = "policy"
		}
		sender := rec.Sender
		if _, ok := b.cfg.Directory.Current().Lookup(sender); !ok {
			// Only directory ids become label values: a name the directory
			// does not know would let a sender grow the metric without bound.
			sender = "unknown"
		}
		mt.Rejections.WithLabelValues(code, sender).Inc()
	}
}

// decide turns one inbound message into a decision record and the personal
// fields the audit log seals. Every failure is a rejection with a code and a
// reason; nothing here is retried, except a message the policy could not
// decide (then the rejection it returns is held, and the message is held
// undecided) and a resend of an envelope already decided (then it carries
// that decision). env is the parsed envelope, or parseErr why it did not parse.
//
// The clock window is checked against when JetStream stored the message, not
// against now: a message that waited out a broker outage or back-pressure is
// as fresh as when it was accepted, while a replayed envelope is stored anew.
func (b *Broker) decide(ctx context.Context, m jetstream.Msg, env *envelope.Envelope, parseErr error, seq uint64, stored time.Time, g *guard) (*decision.Record, *audit.Personal, *rejection) {
	raw := m.Data()
	rec := &decision.Record{
		DecisionID:     decision.NewID(),
		InboundSeq:     seq,
		EnvelopeSHA256: envelope.Hash(raw),
		Outcome:        decision.Rejected,
		// The decision's own time: a consent withdrawn before it no longer
		// counts, even for a message created earlier.
		DecidedAt: b.cfg.Now().UTC(),
	}
	publisher, _ := bus.SenderOf(m.Subject())
	rec.Sender = publisher
	personal := &audit.Personal{}
	rej := b.evaluate(ctx, env, parseErr, publisher, stored, rec, personal, g)
	if rej != nil && (rej.resend != nil || rej.held != nil) {
		return nil, nil, rej
	}
	if rej != nil {
		rec.Outcome = decision.Rejected
		rec.ErrorCode = rej.code
		rec.Reasons = []string{rej.reason}
		rec.Rule, rec.Basis, rec.Obligations = "", "", nil
	}
	return rec, personal, nil
}

// evaluate fills rec from the envelope and the policy, and personal from the
// claims, or returns why the message was refused before a decision.
func (b *Broker) evaluate(ctx context.Context, env *envelope.Envelope, parseErr error, publisher string, stored time.Time, rec *decision.Record, personal *audit.Personal, g *guard) *rejection {
	if parseErr != nil {
		return reject(envelope.Code(parseErr), "%v", parseErr)
	}
	h := env.Header
	created := h.CreatedAt.UTC()
	rec.MessageID, rec.Sender, rec.Recipient, rec.Kind = h.ID, h.From, h.To, h.Kind
	rec.CreatedAt, rec.ReplyTo = &created, h.ReplyTo
	if h.From != publisher {
		rec.Sender = publisher
		return reject(errcode.SenderMismatch, "envelope says it is from %q but was published by %q", h.From, publisher)
	}
	// Before the costly steps (signature, replay guard, policy), and by the
	// publisher, whom NATS authenticated.
	if ok, after, first := b.rate.admit(publisher, rec.InboundSeq, stored); !ok {
		if first {
			b.cfg.Logger.Warn("broker: agency over its rate limit; its messages are refused until it slows down",
				"agency", publisher, "rate", b.cfg.AgencyRate, "burst", b.cfg.AgencyBurst)
		}
		return reject(errcode.RateLimited, "agency %s sent more than %g messages a second (bursts of %d); this message was not decided: send it again, as a new message, in %s or later",
			publisher, b.cfg.AgencyRate, b.cfg.AgencyBurst, after)
	}
	dir := b.cfg.Directory.Current()
	sender, ok := dir.Lookup(h.From)
	if !ok {
		return reject(errcode.UnknownSender, "sender %q is not in the agency directory", h.From)
	}
	recipient, ok := dir.Lookup(h.To)
	if !ok {
		return reject(errcode.UnknownRecipient, "recipient %q is not in the agency directory", h.To)
	}
	if rej := verifySender(env, sender, stored); rej != nil {
		return rej
	}
	if err := env.CheckTime(stored, b.cfg.ClockSkew); err != nil {
		return reject(envelope.Code(err), "%v", err)
	}
	if rej := g.checkReplay(h.ID, rec.InboundSeq, rec.EnvelopeSHA256); rej != nil {
		return rej
	}
	plain, err := env.OpenMeta(append([]age.Identity{b.cfg.Identity}, b.cfg.Identities...)...)
	if err != nil {
		return reject(envelope.Code(err), "policy metadata: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(plain, &claims); err != nil || claims == nil {
		return reject(errcode.BadMetadata, "policy metadata is not a JSON object")
	}
	// The record is kept in clear: a category the policy does not define is
	// the sender's text, and stays out of it (the policy denies it anyway).
	if c, ok := claims["category"].(string); ok && b.cfg.Policy.KnowsCategory(c) {
		rec.Category = c
	}
	*personal = *audit.PersonalFromClaims(claims)
	if personal.Pseudonym == "" {
		// A reply or a forward often names no subject of its own: seal the
		// link to the message it answers or passes on, so that an auditor
		// finds it under that message's subject. The broker cannot open the
		// earlier record's seal to copy the pseudonym itself.
		personal.SubjectOf = subjectLinks(h.ReplyTo, claims["forwarded_from"])
	}
	input, rej := b.input(ctx, env, sender, recipient, claims)
	if rej != nil {
		return rej
	}
	input["decided_at"] = rec.DecidedAt.Format(time.RFC3339Nano)
	hash, err := policy.InputHash(input)
	if err != nil {
		return reject(errcode.BadMetadata, "%v", err)
	}
	rec.InputSHA256 = hash
	t := time.Now()
	d, err := b.cfg.Policy.Eval(ctx, input)
	if b.cfg.Metrics != nil {
		b.cfg.Metrics.PolicySeconds.Observe(time.Since(t).Seconds())
	}
	rec.PolicyRevision = d.Revision
	rec.Reasons = d.Reasons
	if err != nil {
		return b.policyFailed(h.ID, rec, err)
	}
	if d.Allow {
		rec.Outcome = decision.Delivered
		rec.Rule, rec.Basis, rec.Obligations = d.Rule, d.Basis, d.Obligations
	}
	return nil
}

// policyFailed handles a message the policy could not decide: it is held
// undecided (the returned rejection's held) until the policy decides it or
// the patience is over, and then rejected with errcode.PolicyError.
//
// An evaluation error of one message under a policy that passes its probe is
// held the same way. The contract is that the policy decides every input, so
// such an error is a defect of the policy or a timeout of a starved machine,
// never the sender's fault; holding it costs nothing but time, while a
// rejection would make the sender send again what a mended policy might
// allow.
func (b *Broker) policyFailed(id string, rec *decision.Record, err error) *rejection {
	keep, waited, first := b.held.hold(rec.InboundSeq, b.cfg.Now())
	if keep {
		if first {
			b.cfg.Logger.Warn("broker: the policy cannot decide a message; it is held undecided until the policy is fixed",
				"message_id", id, "seq", rec.InboundSeq, "patience", b.cfg.PolicyPatience, "err", err)
		}
		return &rejection{held: err}
	}
	b.cfg.Logger.Error("broker: the policy could not decide a message within the patience; rejecting it with policy_error",
		"message_id", id, "seq", rec.InboundSeq, "waited", waited.Round(time.Second), "err", err)
	rec.ErrorCode = errcode.PolicyError
	rec.Reasons = append(rec.Reasons, fmt.Sprintf("the message waited %s for a policy that could decide it; send it again once the broker reports the policy healthy",
		waited.Round(time.Second)))
	return nil
}

// verifySender checks that env was signed by a key of sender that spoke for
// the sender at at, the time the inbound stream accepted the message: a key
// revoked since cannot sign anything new, while a message accepted before
// the revocation is still decided on its merits.
func verifySender(env *envelope.Envelope, sender *directory.Agency, at time.Time) *rejection {
	_, err := sender.VerifyEnvelope(env, at)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrKeyRevoked):
		return reject(errcode.RevokedKey, "%v; the sender must use its current key", err)
	case errors.Is(err, envelope.ErrBadSignature):
		return reject(envelope.Code(err), "%v", err)
	}
	// A key of the sender, but not yet or no longer valid then.
	return reject(envelope.Code(envelope.ErrBadSignature), "%v: %v", envelope.ErrBadSignature, err)
}

// answerResend answers an envelope sent again with the receipt of its
// recorded decision, under a message id of its own so that the receipt
// stream stores it even when the first receipt is still in its duplicate
// window. Nothing is delivered and nothing new is recorded: the decision,
// and its delivery, are the first message's.
func (b *Broker) answerResend(ctx context.Context, m jetstream.Msg, seq uint64, r *rejection) {
	rec := r.resend
	if b.cfg.Metrics != nil {
		b.cfg.Metrics.Redeliveries.Inc()
	}
	if _, known := b.cfg.Directory.Current().Lookup(rec.Sender); known {
		body, sig, err := decision.Sign(b.cfg.SigningKey, rec)
		if err != nil {
			b.cfg.Logger.Error("broker: sign decision", "err", err)
			_ = m.NakWithDelay(retryDelay)
			return
		}
		out := []outbound{{what: "receipt of a resent envelope", id: fmt.Sprintf("receipt-%s-resent-%d", rec.DecisionID, seq),
			msg: receiptMsg(rec, body, sig)}}
		if what, err := b.publishAll(ctx, out); err != nil {
			b.retry(m, what, err)
			return
		}
	}
	b.rate.settle(seq)
	if err := m.Ack(); err != nil {
		b.cfg.Logger.Warn("broker: ack failed", "err", err)
	}
}

// call runs one JetStream call with a deadline of its own
// (defaults.CallTimeout) and makes it again while it fails, until ctx ends:
// a call whose leader died is answered by the new one. f must be safe to
// repeat.
func (b *Broker) call(ctx context.Context, f func(context.Context) error) error {
	return bus.Retry(ctx, defaults.CallTimeout, f, nil)
}

// keepInProgress tells JetStream every defaults.ProgressInterval that m is
// being worked on, until the returned stop is called. A message handled
// within the interval costs one timer and no message.
func keepInProgress(m jetstream.Msg) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(defaults.ProgressInterval, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		_ = m.InProgress()
		t.Reset(defaults.ProgressInterval)
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// input builds the policy input. Facts about the parties come from the
// directory, claims are the sender's metadata verbatim, records of earlier
// messages come from the audit log and consent from the registry — never from
// the sender.
func (b *Broker) input(ctx context.Context, env *envelope.Envelope, sender, recipient *directory.Agency, claims map[string]any) (map[string]any, *rejection) {
	h := env.Header
	msg := map[string]any{
		"id":         h.ID,
		"kind":       h.Kind,
		"created_at": h.CreatedAt.UTC().Format(time.RFC3339Nano),
	}
	in := map[string]any{
		"message":   msg,
		"sender":    sender.Facts(),
		"recipient": recipient.Facts(),
		"claims":    claims,
	}
	if h.ReplyTo != "" {
		msg["reply_to"] = h.ReplyTo
		r, err := b.byMessage(ctx, h.ReplyTo)
		if err != nil {
			return nil, auditUnavailable(h.ReplyTo, err)
		}
		if r != nil {
			in["reply_to"] = map[string]any{
				"id": r.MessageID, "kind": r.Kind, "sender": r.Sender, "recipient": r.Recipient,
				"created_at": r.CreatedAt.UTC().Format(time.RFC3339Nano),
				"allow":      r.Allowed(), "rule": nullable(r.Rule), "category": r.Category,
			}
		}
	}
	if v := claims["forwarded_from"]; v != nil {
		ids, ok := v.([]any)
		if !ok || len(ids) > maxForwardedSources {
			return nil, reject(errcode.BadMetadata, "claims.forwarded_from must be a list of at most %d message ids", maxForwardedSources)
		}
		sources := make([]any, 0, len(ids))
		seen := make(map[string]bool, len(ids))
		for _, x := range ids {
			id, ok := x.(string)
			if !ok || id == "" {
				// The entry is the sender's text: the reason, kept in clear,
				// names the field and never quotes it.
				return nil, reject(errcode.BadMetadata, "claims.forwarded_from holds an entry that is not a message id")
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			r, err := b.byMessage(ctx, id)
			if err != nil {
				return nil, auditUnavailable(id, err)
			}
			if r == nil {
				// No source: the policy refuses a forward of a message the
				// broker has no record of.
				continue
			}
			obl := make([]any, 0, len(r.Obligations))
			for _, o := range r.Obligations {
				obl = append(obl, o)
			}
			sources = append(sources, map[string]any{
				"id": id, "known": true, "rule": nullable(r.Rule), "obligations": obl,
				"recipient": r.Recipient, "sender": r.Sender, "allow": r.Allowed(),
			})
		}
		in["sources"] = sources
	}
	// Only a reference is taken from the sender; consent data inline in the
	// claims is never read. Without a record the policy finds no consent.
	if ref, ok := claims["consent_ref"].(string); ok && ref != "" {
		c, err := b.resolveConsent(ctx, ref)
		switch {
		case err == nil:
			in["consent"] = c
		case errors.Is(err, consent.ErrNotFound), errors.Is(err, consent.ErrInvalid):
			// No usable record: the policy says that no consent was resolved.
			if errors.Is(err, consent.ErrInvalid) {
				b.cfg.Logger.Warn("broker: consent record unusable", "message_id", h.ID, "consent_ref", ref, "err", err)
			}
		default:
			// Deciding without the record would tell the sender that no
			// consent exists; say instead that it could not be read.
			// The error names the sender's consent_ref: it goes to the log,
			// not into the reason, which is kept in clear.
			b.cfg.Logger.Error("broker: consent registry unavailable", "message_id", h.ID, "consent_ref", ref, "err", err)
			return nil, reject(errcode.ConsentUnavailable, "the consent registry could not be read (claims.consent_ref); send the message again later")
		}
	}
	return in, nil
}

// byMessage is Audit.ByMessage, asked again while the audit stream does not
// answer, for up to readPatience: a refusal for want of the record is
// final for the sender.
func (b *Broker) byMessage(ctx context.Context, id string) (*decision.Record, error) {
	patience, cancel := context.WithTimeout(ctx, readPatience)
	defer cancel()
	var r *decision.Record
	err := b.call(patience, func(ctx context.Context) (err error) {
		r, err = b.cfg.Audit.ByMessage(ctx, id)
		return err
	})
	return r, err
}

// resolveConsent is Consent.Resolve, asked again while the registry does
// not answer, for up to readPatience. That no record exists, or that
// it is unusable, is an answer.
func (b *Broker) resolveConsent(ctx context.Context, ref string) (map[string]any, error) {
	patience, cancel := context.WithTimeout(ctx, readPatience)
	defer cancel()
	var c map[string]any
	var final error
	err := b.call(patience, func(ctx context.Context) (err error) {
		c, err = b.cfg.Consent.Resolve(ctx, ref)
		if errors.Is(err, consent.ErrNotFound) || errors.Is(err, consent.ErrInvalid) {
			final = err
			return nil
		}
		return err
	})
	if final != nil {
		return nil, final
	}
	return c, err
}

// subjectLinks lists the messages a reply or forward is about: the one it
// answers, then the ones it forwards (at most maxForwardedSources, the
// bound input enforces).
func subjectLinks(replyTo string, forwarded any) []string {
	var ids []string
	if replyTo != "" {
		ids = append(ids, replyTo)
	}
	if xs, ok := forwarded.([]any); ok && len(xs) <= maxForwardedSources {
		for _, x := range xs {
			if id, ok := x.(string); ok && id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// finish publishes the delivery (if allowed) and the receipt, then acks. Both
// publishes are idempotent (deduplicated by their message ids), so a
// publish that gets no answer is made again, and a redelivery may run
// finish again safely.
func (b *Broker) finish(ctx context.Context, m jetstream.Msg, rec *decision.Record, raw []byte) {
	body, sig, err := decision.Sign(b.cfg.SigningKey, rec)
	if err != nil {
		b.cfg.Logger.Error("broker: sign decision", "err", err)
		_ = m.NakWithDelay(retryDelay)
		return
	}
	var out []outbound
	if rec.Allowed() {
		out = append(out, outbound{what: "delivery", id: rec.MessageID, msg: func() *nats.Msg {
			out := nats.NewMsg(bus.Out(rec.Recipient))
			out.Data = raw
			out.Header.Set(bus.HeaderDecision, string(body))
			out.Header.Set(bus.HeaderSignature, sig)
			return out
		}})
	}
	if _, known := b.cfg.Directory.Current().Lookup(rec.Sender); known {
		out = append(out, outbound{what: "receipt", id: "receipt-" + rec.DecisionID, msg: receiptMsg(rec, body, sig)})
	}
	if what, err := b.publishAll(ctx, out); err != nil {
		b.retry(m, what, err)
		return
	}
	if err := m.Ack(); err != nil {
		// The outcome is recorded and published; a redelivery re-sends the same.
		b.cfg.Logger.Warn("broker: ack failed", "err", err)
	}
}

// receiptMsg makes the receipt of rec for its sender: the signed decision.
func receiptMsg(rec *decision.Record, body []byte, sig string) func() *nats.Msg {
	return func() *nats.Msg {
		r := nats.NewMsg(bus.Receipt(rec.Sender))
		r.Data = body
		r.Header.Set(bus.HeaderSignature, sig)
		return r
	}
}

// outbound is a message finish publishes: msg makes it anew for each
// attempt, id is its Nats-Msg-Id.
type outbound struct {
	what string
	id   string
	msg  func() *nats.Msg
}

// publishAll publishes every message at once and waits for their PubAcks,
// each at most defaults.CallTimeout; those without one are published again,
// under the same id, until ctx ends. A refusal (a full stream) ends it at
// once. It returns what failed last and why.
func (b *Broker) publishAll(ctx context.Context, out []outbound) (string, error) {
	what := ""
	var refused error // an answer, such as a full stream: the message is held back
	err := b.call(ctx, func(ctx context.Context) error {
		futures := make([]jetstream.PubAckFuture, 0, len(out))
		for _, o := range out {
			f, err := b.js.PublishMsgAsync(o.msg(), jetstream.WithMsgID(o.id))
			if err != nil {
				what = o.what
				return err
			}
			futures = append(futures, f)
		}
		var failed []outbound
		var errs []error
		for i, f := range futures {
			select {
			case <-f.Ok():
				continue
			case err := <-f.Err():
				errs = append(errs, err)
			case <-ctx.Done():
				errs = append(errs, ctx.Err())
			}
			failed = append(failed, out[i])
			what = out[i].what
		}
		if len(failed) == 0 {
			return nil
		}
		out = failed
		err := errors.Join(errs...)
		for _, e := range errs {
			if !bus.NoAnswer(e) {
				refused = err
				return nil
			}
		}
		b.cfg.Logger.Warn("broker: "+what+" not stored yet; publishing it again", "err", err)
		return err
	})
	if refused != nil {
		err = refused
	}
	return what, err
}

func (b *Broker) retry(m jetstream.Msg, what string, err error) {
	b.cfg.Logger.Error("broker: "+what+" not stored; message will be retried from its recorded decision", "err", err)
	_ = m.NakWithDelay(retryDelay)
}
