package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// A record's subject is its index key, so that the stream's own subject
// index finds it and no broker holds an index in memory or reads the log to
// build one:
//
//	<prefix>m.<message id>.d      the decision that holds the message id
//	<prefix>m.<message id>.<seq>  any other record of the id: inbound message
//	                              <seq> refused before it could hold it, or as
//	                              a replay of it
//	<prefix>n.<seq>               a record of inbound message <seq> without a
//	                              usable message id
//	<prefix>e.<decision id>       a record of no inbound message (key events)
//
// A record is stored on a subject only if that subject has no record of the
// broker's yet (Nats-Expected-Last-Subject-Sequence), so the subject of a
// message id holds exactly one decision: the replay guard is the log.
const (
	claimToken = "d"
)

// recordSubject returns the subject of rec; claim says that rec holds its
// message id.
func recordSubject(rec *decision.Record, claim bool) string {
	switch {
	case rec.InboundSeq == 0 && indexToken.MatchString(rec.DecisionID) && rec.DecisionID != "":
		return bus.AuditRecordPrefix + "e." + rec.DecisionID
	case rec.InboundSeq == 0:
		return bus.AuditRecord
	case !idToken(rec.MessageID):
		return bySeqSubject(rec.InboundSeq)
	case claim:
		return claimSubject(rec.MessageID)
	}
	return bus.AuditRecordPrefix + "m." + rec.MessageID + "." + strconv.FormatUint(rec.InboundSeq, 10)
}

func claimSubject(id string) string { return bus.AuditRecordPrefix + "m." + id + "." + claimToken }

func bySeqSubject(seq uint64) string {
	return bus.AuditRecordPrefix + "n." + strconv.FormatUint(seq, 10)
}

// idToken reports whether a message id can be a subject token (an envelope's
// id always can).
func idToken(id string) bool { return id != "" && indexToken.MatchString(id) }

// ClaimedError is returned by Append when the message id of the record is
// held by the decision of another inbound message: the record was not
// written. Record is that decision.
type ClaimedError struct {
	Record *decision.Record
}

func (e *ClaimedError) Error() string {
	return fmt.Sprintf("audit: message id %s is held by the decision of inbound message %d", e.Record.MessageID, e.Record.InboundSeq)
}

// Append records rec (and its personal fields, sealed) as the decision that
// holds its message id, and returns once the stream has stored it (PubAck).
// If the inbound message was already recorded, by this broker or another,
// nothing new is written and the recorded decision is returned instead: the
// caller must act on the returned record. If the id is held by another
// inbound message's decision, the error is a *ClaimedError.
//
// A record without a message id, or a replay refusal, holds no id, as with
// AppendUnclaimed.
func (l *Log) Append(ctx context.Context, rec *decision.Record, p *Personal) (*decision.Record, error) {
	return l.appendRecord(ctx, rec, p, rec.ErrorCode != errcode.Replay)
}

// AppendUnclaimed records rec as Append does, but filed under its inbound
// message only: a message refused before its id was checked, or refused as
// a replay, does not hold the id.
func (l *Log) AppendUnclaimed(ctx context.Context, rec *decision.Record, p *Personal) (*decision.Record, error) {
	return l.appendRecord(ctx, rec, p, false)
}

func (l *Log) appendRecord(ctx context.Context, rec *decision.Record, p *Personal, claim bool) (*decision.Record, error) {
	return l.append(ctx, rec, p, claim)
}

// maxSquatters bounds how many records someone else wrote on one subject
// before the broker's are passed over.
const maxSquatters = 8

func (l *Log) append(ctx context.Context, rec *decision.Record, p *Personal, claim bool) (*decision.Record, error) {
	// A legacy decision (before records had subjects) may hold the id.
	if claim && idToken(rec.MessageID) {
		if first, err := l.legacyByMessage(ctx, rec.MessageID); err != nil {
			return nil, err
		} else if first != nil {
			return l.taken(first, rec)
		}
	}
	e := newEntry(rec)
	if l.sealer != nil && !p.Empty() {
		s, err := l.sealer.seal(ctx, rec.DecidedAt, rec.DecisionID, p)
		if err != nil {
			// The caller counts the failed append (sekretess_audit_append_failures_total)
			// and retries the message; this says why.
			l.cfg.Logger.Error("audit: personal fields not sealed; the record is not written", "period", Period(rec.DecidedAt), "err", err)
			return nil, err
		}
		e.Personal = s
	}
	subject := recordSubject(rec, claim && idToken(rec.MessageID))
	var expect uint64
	for range maxSquatters {
		// A publish that gets no answer within defaults.CallTimeout (the
		// stream's leader died) is made again, under the same message id,
		// until ctx ends: the stream's dedupe window keeps it one record. An
		// answer, a refusal (a full stream) or a subject already taken, ends it.
		var ack *jetstream.PubAck
		var answered error
		err := bus.Retry(ctx, defaults.CallTimeout, func(ctx context.Context) (err error) {
			start := l.cfg.Now()
			ack, err = publishEntry(ctx, l.js, l.cfg.Signer, e, subject, &expect)
			if wrongLastSeq(err) {
				l.note(start, nil) // the stream answered: it takes records
			} else {
				l.note(start, err)
			}
			if err != nil && !bus.NoAnswer(err) {
				answered = err
				return nil
			}
			return err
		}, nil)
		if answered != nil {
			err = answered
		}
		if err == nil {
			if !ack.Duplicate {
				return rec, nil
			}
			// The stream answers a duplicate with the original's sequence. A
			// record someone else published under this dedupe key is refused
			// by recordAt: the message is retried, and recorded by the
			// broker once the stream's dedupe window has passed.
			first, err := l.recordAt(ctx, ack.Sequence)
			if err != nil {
				return nil, fmt.Errorf("audit: inbound message %d was recorded before: %w", rec.InboundSeq, err)
			}
			return first, nil
		}
		if !wrongLastSeq(err) {
			return nil, err
		}
		// The subject has a record: the broker's, of this message or of
		// another, or someone else's, which is passed over.
		first, last, err := l.firstOn(ctx, subject, func(r *decision.Record) bool {
			return r.MessageID == rec.MessageID && (claim || r.InboundSeq == rec.InboundSeq)
		})
		if err != nil {
			return nil, err
		}
		if first != nil && (claim || first.EnvelopeSHA256 == rec.EnvelopeSHA256) {
			return l.taken(first, rec)
		}
		// Only records that are not the broker's, or (the inbound stream
		// was recreated) another envelope's under the same sequence: go after
		// them.
		expect = last
	}
	return nil, fmt.Errorf("audit: record subject %s holds more than %d records the broker did not write; audit verify names them", subject, maxSquatters)
}

// taken answers an append whose subject holds first: it is rec's own
// decision when it decided the same envelope as the same inbound message.
func (l *Log) taken(first, rec *decision.Record) (*decision.Record, error) {
	if first.InboundSeq == rec.InboundSeq && first.EnvelopeSHA256 == rec.EnvelopeSHA256 {
		return first, nil
	}
	return nil, &ClaimedError{Record: first}
}

func wrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// publishEntry signs e and appends it to the audit stream on subject; with
// expect, only if the subject's last record is at that sequence (0: none).
func publishEntry(ctx context.Context, js jetstream.JetStream, signer note.Signer, e *Entry, subject string, expect *uint64) (*jetstream.PubAck, error) {
	rec := &e.Decision
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if data, err = signRecord(signer, data); err != nil {
		return nil, err
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	key := indexKey{InboundSeq: rec.InboundSeq, MessageID: rec.MessageID, ErrorCode: rec.ErrorCode}
	if v, ok := key.header(); ok {
		msg.Header.Set(indexHeader, v)
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(dedupeKey(rec)), jetstream.WithExpectStream(bus.StreamAudit)}
	if expect != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*expect))
	}
	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return nil, fmt.Errorf("audit: append decision %s: %w", rec.DecisionID, err)
	}
	return ack, nil
}

func (l *Log) recordAt(ctx context.Context, seq uint64) (*decision.Record, error) {
	m, err := l.stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("audit: record %d: %w", seq, err)
	}
	return l.checkRecord(m)
}

// checkRecord returns the record m holds if the broker wrote it.
func (l *Log) checkRecord(m *jetstream.RawStreamMsg) (*decision.Record, error) {
	if err := VerifyRecord(m.Data, l.recordKeys); err != nil {
		if !errors.Is(err, ErrUnsigned) || m.Sequence >= l.signedFrom {
			return nil, fmt.Errorf("audit: record %d: %w: %w", m.Sequence, errForeign, err)
		}
	}
	e, err := ParseEntry(m.Data)
	if err != nil {
		return nil, err
	}
	return &e.Decision, nil
}

// errForeign marks a record the broker did not write.
var errForeign = errors.New("not written by the broker")

// firstOn returns the first record on subject (a literal or a wildcard) that
// the broker wrote and that match accepts, and the sequence of the last
// record it read there. Records someone else wrote, or whose subject names
// another decision than they hold, are logged and passed over: the broker
// never acts on them, and audit verify reports them. It reads at most
// maxSquatters records.
func (l *Log) firstOn(ctx context.Context, subject string, match func(*decision.Record) bool) (*decision.Record, uint64, error) {
	r, _, last, err := l.firstOnSubject(ctx, subject, match)
	return r, last, err
}

// firstOnSubject is firstOn that also returns the subject the record is on.
func (l *Log) firstOnSubject(ctx context.Context, subject string, match func(*decision.Record) bool) (*decision.Record, string, uint64, error) {
	var last uint64
	for range maxSquatters {
		m, err := l.stream.GetMsg(ctx, last+1, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, "", last, nil
		}
		if err != nil {
			return nil, "", last, fmt.Errorf("audit: records of %s: %w", subject, err)
		}
		last = m.Sequence
		r, err := l.checkRecord(m)
		switch {
		case errors.Is(err, errForeign):
			l.cfg.Logger.Error("audit: a record in the audit stream is not the broker's; it is ignored (audit verify reports it)", "seq", m.Sequence, "err", err)
		case err != nil:
			return nil, "", last, err
		case m.Subject != recordSubject(r, m.Subject == claimSubject(r.MessageID)) || !match(r):
			l.cfg.Logger.Error("audit: a record's subject names another decision than it holds; it is ignored", "seq", m.Sequence)
		default:
			return r, m.Subject, last, nil
		}
	}
	return nil, "", last, fmt.Errorf("audit: %s holds more than %d records the broker did not write; audit verify names them", subject, maxSquatters)
}

// Lookup returns what the log holds for inbound message seq whose envelope
// has message id id ("" when it has none): mine, its recorded decision, and
// claim, the decision that holds the id (mine, another inbound message's, or
// nil). Either is nil when there is none; an error means a record exists but
// could not be read now. A new message costs one read of the stream.
func (l *Log) Lookup(ctx context.Context, seq uint64, id string) (mine, claim *decision.Record, err error) {
	if mine, err = l.legacyBySeq(ctx, seq); err != nil {
		return nil, nil, err
	}
	if !idToken(id) {
		if mine == nil {
			mine, _, err = l.firstOn(ctx, bySeqSubject(seq), func(r *decision.Record) bool { return r.InboundSeq == seq })
		}
		return mine, nil, err
	}
	if claim, err = l.legacyByMessage(ctx, id); err != nil {
		return nil, nil, err
	}
	if mine != nil && claim != nil {
		return mine, claim, nil
	}
	// Usually the id has no record yet, or only this message's: one read.
	first, subject, _, err := l.firstOnSubject(ctx, bus.AuditRecordPrefix+"m."+id+".>", func(r *decision.Record) bool { return r.MessageID == id })
	if err != nil || first == nil {
		return mine, claim, err
	}
	// Someone else's record on the claim subject was passed over above, so
	// the first of the broker's there is the claim.
	firstClaims := subject == claimSubject(id)
	if mine == nil && first.InboundSeq == seq {
		mine = first
	}
	if claim == nil && firstClaims {
		claim = first
	}
	if mine == nil {
		if mine, _, err = l.firstOn(ctx, recordSubject(&decision.Record{InboundSeq: seq, MessageID: id}, false),
			func(r *decision.Record) bool { return r.InboundSeq == seq }); err != nil {
			return nil, nil, err
		}
	}
	if claim == nil && !firstClaims {
		if claim, _, err = l.firstOn(ctx, claimSubject(id), func(r *decision.Record) bool { return r.MessageID == id }); err != nil {
			return nil, nil, err
		}
	}
	if mine == nil && claim != nil && claim.InboundSeq == seq {
		mine = claim
	}
	return mine, claim, nil
}

// BySeq returns the record of inbound message seq, whose envelope has
// message id id ("" when it has none), if any broker recorded it. It is nil
// without an error when there is none; an error means the record exists but
// could not be read from the stream now.
func (l *Log) BySeq(ctx context.Context, seq uint64, id string) (*decision.Record, error) {
	mine, _, err := l.Lookup(ctx, seq, id)
	return mine, err
}

// ByMessage returns the decision that holds a message id, or nil without an
// error when there is none.
func (l *Log) ByMessage(ctx context.Context, id string) (*decision.Record, error) {
	if r, err := l.legacyByMessage(ctx, id); err != nil || r != nil {
		return r, err
	}
	if !idToken(id) {
		return nil, nil
	}
	r, _, err := l.firstOn(ctx, claimSubject(id), func(r *decision.Record) bool { return r.MessageID == id })
	return r, err
}

// legacyLookup returns the first record at seqs that the broker wrote and
// that match accepts, as firstOn does for a subject.
func (l *Log) legacyLookup(ctx context.Context, seqs []uint64, match func(*decision.Record) bool) (*decision.Record, error) {
	for _, at := range seqs {
		r, err := l.recordAt(ctx, at)
		switch {
		case errors.Is(err, errForeign):
			l.cfg.Logger.Error("audit: a record in the audit stream is not the broker's; it is ignored (audit verify reports it)", "seq", at, "err", err)
		case err != nil:
			return nil, err
		case !match(r):
			l.cfg.Logger.Error("audit: a record's index header names another decision than it holds; it is ignored", "seq", at)
		default:
			return r, nil
		}
	}
	return nil, nil
}

// legacyBySeq looks seq up among the records on the bare subject.
func (l *Log) legacyBySeq(ctx context.Context, seq uint64) (*decision.Record, error) {
	l.mu.Lock()
	at, ok := l.bySeq[seq]
	seqs := append([]uint64{at}, l.moreBySeq[seq]...)
	l.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return l.legacyLookup(ctx, seqs, func(r *decision.Record) bool { return r.InboundSeq == seq })
}

// legacyByMessage looks id up among the records on the bare subject.
func (l *Log) legacyByMessage(ctx context.Context, id string) (*decision.Record, error) {
	l.mu.Lock()
	at, ok := l.byMessage[id]
	seqs := append([]uint64{at}, l.moreByMessage[id]...)
	l.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return l.legacyLookup(ctx, seqs, func(r *decision.Record) bool { return r.MessageID == id })
}
