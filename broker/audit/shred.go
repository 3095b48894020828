package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// Erasure. A period's keys are in a stream of its own, and Shred deletes
// that stream whole (see keystore.go). Keys in the key-value bucket of
// older deployments are erased with JetStream's secure delete, which
// overwrites the message in its block file with random bytes where the store
// is not encrypted; a bucket made through the key-value API denies deletes
// for good, and its keys can only be purged (ShreddedKey.How says which).

// keysStream is the stream behind the key bucket of older deployments.
const keysStream = "KV_" + bus.BucketAuditKeys

// ShredMargin is how long after a period's end its key may be shredded: a
// broker whose clock is behind may still seal records with it until then.
const ShredMargin = time.Hour

// ShreddedKey is one data key Shred destroyed.
type ShreddedKey struct {
	Period string `json:"period"`
	KeyID  string `json:"key_id"`
	// Copies is how many stored messages held it.
	Copies int `json:"copies"`
	// How says how it was destroyed: HowStreamDeleted, HowErased or
	// HowPurged.
	How string `json:"how"`
}

// How a key was destroyed.
const (
	// HowStreamDeleted: the period's key stream was deleted, with its files
	// and, on an encrypted store, the keys those files are encrypted with.
	HowStreamDeleted = "stream deleted"
	// HowErased: securely deleted from the key bucket of an older
	// deployment; on an encrypted store the bytes stay, encrypted under the
	// store's key, until JetStream compacts the block.
	HowErased = "erased from the key bucket"
	// HowPurged: purged from a key bucket that denies deletes; the bytes stay
	// in its files until JetStream compacts them.
	HowPurged = "purged from the key bucket"
)

// ShredReport says what Shred destroyed.
type ShredReport struct {
	Before time.Time     `json:"before"`
	Keys   []ShreddedKey `json:"keys"`
	// Erased is false when some key could only be purged (HowPurged): its
	// bytes stay in the bucket's files until JetStream compacts them.
	Erased bool `json:"erased"`
}

// Periods returns the periods whose keys were destroyed, in order.
func (r *ShredReport) Periods() []string {
	var out []string
	for _, k := range r.Keys {
		if len(out) == 0 || out[len(out)-1] != k.Period {
			out = append(out, k.Period)
		}
	}
	return out
}

// ErrShredTooLate is returned when asked to shred a period that has not
// ended, or ended less than ShredMargin ago.
var ErrShredTooLate = errors.New("audit: shred: a period's key may be destroyed only after the period has ended")

// Shred destroys the data keys of every period that ended on or before
// before: it records each destruction in the audit log (a KeyEvent record of
// kind decision.KindDataKeyShredded, signed with signer, the broker's audit
// key), then erases every stored copy of the wrapped key. The records stay,
// sealed, and every tree hash and proof over them still verifies.
//
// It refuses a before later than now minus ShredMargin: the current
// period's key seals new records, and a key destroyed while a broker still
// uses it would make every record sealed after that unreadable.
func Shred(ctx context.Context, js jetstream.JetStream, signer note.Signer, before, now time.Time) (*ShredReport, error) {
	if latest := now.Add(-ShredMargin); before.After(latest) {
		return nil, fmt.Errorf("%w: before %s is later than %s, %s ago: the current period (%s) and later ones are never shredded, "+
			"for their keys still seal new records, and an ended period only %s after its end", ErrShredTooLate,
			before.UTC().Format(time.RFC3339), latest.UTC().Format(time.RFC3339), ShredMargin, Period(now), ShredMargin)
	}
	rep := &ShredReport{Before: before.UTC(), Erased: true}
	streams, err := keyStreams(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("audit: shred: %w", err)
	}
	periods := make([]string, 0, len(streams))
	for p := range streams {
		periods = append(periods, p)
	}
	sort.Strings(periods)
	for _, period := range periods {
		if !periodEnded(period, before) {
			continue
		}
		copies, err := periodKeys(ctx, js, streams[period], period)
		if err != nil {
			return rep, fmt.Errorf("audit: shred: %w", err)
		}
		ids := make([]string, 0, len(copies))
		for id := range copies {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		// Every destruction is recorded before anything is destroyed, so a
		// failure leaves keys and records, never a silent gap.
		for _, id := range ids {
			if err := recordShred(ctx, js, signer, period, id, now, HowStreamDeleted); err != nil {
				return rep, err
			}
		}
		if err := js.DeleteStream(ctx, streams[period]); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return rep, fmt.Errorf("audit: shred %s: delete key stream %s: %w", period, streams[period], err)
		}
		for _, id := range ids {
			rep.Keys = append(rep.Keys, ShreddedKey{Period: period, KeyID: id, Copies: copies[id], How: HowStreamDeleted})
		}
	}
	if err := shredBucket(ctx, js, signer, before, now, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// shredBucket destroys the keys of ended periods in the key bucket of an
// older deployment, if there is one.
func shredBucket(ctx context.Context, js jetstream.JetStream, signer note.Signer, before, now time.Time, rep *ShredReport) error {
	stream, err := js.Stream(ctx, keysStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: shred: key bucket: %w", err)
	}
	prefix := "$KV." + bus.BucketAuditKeys + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+"period.>"))
	if err != nil {
		return fmt.Errorf("audit: shred: key bucket: %w", err)
	}
	how := HowErased
	if info.Config.DenyDelete {
		how, rep.Erased = HowPurged, false
	}
	var names []string
	for subj := range info.State.Subjects {
		names = append(names, strings.TrimPrefix(subj, prefix))
	}
	sort.Strings(names)
	for _, name := range names {
		period, id, ok := strings.Cut(strings.TrimPrefix(name, "period."), ".")
		if !ok || !periodEnded(period, before) {
			continue
		}
		seqs, err := keyCopies(ctx, stream, prefix+name)
		if err != nil {
			return err
		}
		if len(seqs) == 0 {
			continue // shredded before: only a purge marker is left
		}
		if err := recordShred(ctx, js, signer, period, id, now, how); err != nil {
			return err
		}
		if how == HowErased {
			for _, seq := range seqs {
				if err := stream.SecureDeleteMsg(ctx, seq); err != nil {
					return fmt.Errorf("audit: shred %s: erase message %d: %w", name, seq, err)
				}
			}
		} else if err := purgeKey(ctx, js, name); err != nil {
			return err
		}
		rep.Keys = append(rep.Keys, ShreddedKey{Period: period, KeyID: id, Copies: len(seqs), How: how})
	}
	return nil
}

// keyCopies returns the sequences of the stored values of subject: every
// revision that holds key bytes, not purge or delete markers.
func keyCopies(ctx context.Context, stream jetstream.Stream, subject string) ([]uint64, error) {
	// The bucket keeps one revision per key, so the last message is the
	// only one; a marker means the key is gone already.
	m, err := stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: shred %s: %w", subject, err)
	}
	if op := m.Header.Get("KV-Operation"); op != "" || len(m.Data) == 0 {
		return nil, nil
	}
	return []uint64{m.Sequence}, nil
}

func purgeKey(ctx context.Context, js jetstream.JetStream, name string) error {
	kv, err := js.KeyValue(ctx, bus.BucketAuditKeys)
	if err != nil {
		return fmt.Errorf("audit: shred: key bucket: %w", err)
	}
	if err := kv.Purge(ctx, name); err != nil {
		return fmt.Errorf("audit: shred %s: %w", name, err)
	}
	return nil
}

// recordShred appends the record of the destruction of data key id. Its
// decision id is derived from the key, so a shred run again after a failure
// writes it once within the stream's dedupe window.
func recordShred(ctx context.Context, js jetstream.JetStream, signer note.Signer, period, id string, now time.Time, how string) error {
	sum := sha256.Sum256([]byte(decision.KindDataKeyShredded + "\x00" + period + "\x00" + id))
	rec := &decision.Record{
		DecisionID: hex.EncodeToString(sum[:16]),
		DecidedAt:  now.UTC(),
		Sender:     "broker",
		Kind:       decision.KindDataKeyShredded,
		KeyID:      id,
		Outcome:    decision.KeyEvent,
		Reasons:    []string{fmt.Sprintf("data key %s of period %s shredded: %s; the personal fields it sealed are unreadable", id, period, how)},
	}
	if _, err := publishEntry(ctx, js, signer, newEntry(rec), recordSubject(rec, false), nil); err != nil {
		return fmt.Errorf("audit: shred: the destruction of key %s of %s could not be recorded, so it was not destroyed: %w", id, period, err)
	}
	return nil
}
