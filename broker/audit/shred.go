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
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// Erasure. The key bucket's stream is made by Setup itself, not through the
// key-value API, because a bucket made that way denies message deletes for
// good (a stream's deny_delete can never be lifted): Shred erases every
// stored copy of a wrapped key with JetStream's secure delete, which
// overwrites the message in its block file with random bytes. A purge, or a
// key-value delete, only hides the value and leaves its bytes on disk.
//
// A bucket made before this (deny_delete set) can only be purged; Shred
// says so in its report (ShredReport.Erased false).
//
// JetStream skips the overwrite on an encrypted store (the embedded server's
// default), where the bytes stay in the block, encrypted under the store's
// key, until the block is compacted or removed.

// keysStream is the stream behind the key bucket.
const keysStream = "KV_" + bus.BucketAuditKeys

// ShredMargin is how long after a period's end its key may be shredded: a
// broker whose clock is behind may still seal records with it until then.
const ShredMargin = time.Hour

// setupKeys creates the key bucket's stream with message deletes allowed,
// unless it exists, applies lim and returns the bucket.
func setupKeys(ctx context.Context, js jetstream.JetStream, replicas int, lim limits.Stream) (jetstream.KeyValue, error) {
	_, err := js.Stream(ctx, keysStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		// The configuration the key-value API would make, but for DenyDelete.
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:              keysStream,
			Description:       "Data keys of the audit log's personal fields, wrapped to the auditors; erased after retention.",
			Subjects:          []string{"$KV." + bus.BucketAuditKeys + ".>"},
			MaxMsgsPerSubject: 1, MaxMsgs: -1, MaxBytes: -1, MaxMsgSize: -1, MaxConsumers: -1,
			Storage: jetstream.FileStorage, Replicas: replicas,
			AllowRollup: true, AllowDirect: true, Discard: jetstream.DiscardNew,
			Duplicates: 2 * time.Minute,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another broker made it at the same time
		}
	}
	if err != nil {
		return nil, err
	}
	if err := lim.Bucket(ctx, js, bus.BucketAuditKeys); err != nil {
		return nil, err
	}
	return js.KeyValue(ctx, bus.BucketAuditKeys)
}

// ShreddedKey is one data key Shred destroyed.
type ShreddedKey struct {
	Period string `json:"period"`
	KeyID  string `json:"key_id"`
	// Copies is how many stored messages held it.
	Copies int `json:"copies"`
}

// ShredReport says what Shred destroyed.
type ShredReport struct {
	Before time.Time     `json:"before"`
	Keys   []ShreddedKey `json:"keys"`
	// Erased is false when the bucket predates secure erase: the keys were
	// purged, and their bytes stay in the bucket's files until JetStream
	// compacts them.
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
	stream, err := js.Stream(ctx, keysStream)
	if err != nil {
		return nil, fmt.Errorf("audit: shred: key bucket: %w", err)
	}
	prefix := "$KV." + bus.BucketAuditKeys + "."
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(prefix+"period.>"))
	if err != nil {
		return nil, fmt.Errorf("audit: shred: key bucket: %w", err)
	}
	rep := &ShredReport{Before: before.UTC(), Erased: !info.Config.DenyDelete}
	var names []string
	for subj := range info.State.Subjects {
		names = append(names, strings.TrimPrefix(subj, prefix))
	}
	sort.Strings(names)
	for _, name := range names {
		period, id, ok := strings.Cut(strings.TrimPrefix(name, "period."), ".")
		start, err := time.Parse("2006-01", period)
		if !ok || err != nil || start.AddDate(0, 1, 0).After(before) {
			continue
		}
		seqs, err := keyCopies(ctx, stream, prefix+name)
		if err != nil {
			return rep, err
		}
		if len(seqs) == 0 {
			continue // shredded before: only a purge marker is left
		}
		if err := recordShred(ctx, js, signer, period, id, now, rep.Erased); err != nil {
			return rep, err
		}
		if rep.Erased {
			for _, seq := range seqs {
				if err := stream.SecureDeleteMsg(ctx, seq); err != nil {
					return rep, fmt.Errorf("audit: shred %s: erase message %d: %w", name, seq, err)
				}
			}
		} else if err := purgeKey(ctx, js, name); err != nil {
			return rep, err
		}
		rep.Keys = append(rep.Keys, ShreddedKey{Period: period, KeyID: id, Copies: len(seqs)})
	}
	return rep, nil
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
func recordShred(ctx context.Context, js jetstream.JetStream, signer note.Signer, period, id string, now time.Time, erased bool) error {
	sum := sha256.Sum256([]byte(decision.KindDataKeyShredded + "\x00" + period + "\x00" + id))
	how := "erased from the key bucket"
	if !erased {
		how = "purged from the key bucket (it predates secure erase; the bytes stay in its files until compacted)"
	}
	rec := &decision.Record{
		DecisionID: hex.EncodeToString(sum[:16]),
		DecidedAt:  now.UTC(),
		Sender:     "broker",
		Kind:       decision.KindDataKeyShredded,
		KeyID:      id,
		Outcome:    decision.KeyEvent,
		Reasons:    []string{fmt.Sprintf("data key %s of period %s shredded: %s; the personal fields it sealed are unreadable", id, period, how)},
	}
	if _, _, err := publishEntry(ctx, js, signer, newEntry(rec)); err != nil {
		return fmt.Errorf("audit: shred: the destruction of key %s of %s could not be recorded, so it was not destroyed: %w", id, period, err)
	}
	return nil
}
