package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// Where the wrapped data keys live. Each retention period has a stream of
// its own, SEKRETESS_AUDIT_KEYS_<period>, and shredding a period deletes
// that stream whole. Deleting a stream removes its block files and, on an
// encrypted store (the embedded server's default), the per-block keys they
// are encrypted with, so no copy of the wrapped key can be read back even
// with the store's key. JetStream's secure message delete cannot promise as
// much there: it skips the overwrite on an encrypted store, where the bytes
// stay in the block until it is compacted.
//
// Deployments from before kept the keys in the key-value bucket
// sekretess_audit_keys; its periods are still read, and shredded with
// secure delete or a purge (see Shred).

// errNoKey is returned by keyStore.get when no stream holds the key.
var errNoKey = errors.New("audit: no such data key")

// keyStore writes and reads wrapped data keys.
type keyStore struct {
	js       jetstream.JetStream
	replicas int
	limit    limits.Stream

	// made holds the periods whose stream this store made or found.
	made map[string]bool
}

// ensure creates period's key stream unless this store made or found it
// before; several brokers creating it at once is safe.
func (k *keyStore) ensure(ctx context.Context, period string) error {
	if k.made[period] {
		return nil
	}
	cfg := jetstream.StreamConfig{
		Name:        bus.AuditKeysStream(period),
		Description: "Data keys of the audit log's personal fields of " + period + ", wrapped to the auditors; deleted whole when shredded.",
		Subjects:    []string{bus.AuditKey(period, "*")},
		Storage:     jetstream.FileStorage, Replicas: k.replicas,
		MaxMsgsPerSubject: 1, AllowDirect: true, Discard: jetstream.DiscardNew,
		Duplicates: 2 * time.Minute,
	}
	k.limit.Apply(&cfg, false)
	cfg.MaxMsgsPerSubject = 1 // one key under each id, never replaced
	_, err := k.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		err = nil // made before, or by another broker just now
	}
	if err != nil {
		return fmt.Errorf("audit: key stream of %s: %w", period, err)
	}
	if k.made == nil {
		k.made = map[string]bool{}
	}
	k.made[period] = true
	return nil
}

// put stores the wrapped key id of period, once: a key under that id already
// stored is an error, so no key is ever replaced.
func (k *keyStore) put(ctx context.Context, period, id string, wrapped []byte) error {
	if err := k.ensure(ctx, period); err != nil {
		return err
	}
	_, err := k.js.Publish(ctx, bus.AuditKey(period, id), wrapped,
		jetstream.WithExpectStream(bus.AuditKeysStream(period)), jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil {
		return fmt.Errorf("audit: store data key of %s: %w", period, err)
	}
	return nil
}

// getKey reads the wrapped key id of period by a direct get on its subject,
// which needs no stream info (an auditor may not list streams), then from the
// key-value bucket of older deployments. It returns errNoKey when neither
// holds it.
func getKey(ctx context.Context, js jetstream.JetStream, period, id string) ([]byte, error) {
	b, err := directGetLast(ctx, js.Conn(), bus.AuditKeysStream(period), bus.AuditKey(period, id))
	if !errors.Is(err, errNoKey) {
		return b, err
	}
	kv, err := js.KeyValue(ctx, bus.BucketAuditKeys)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("audit: key bucket: %w", err)
	}
	e, err := kv.Get(ctx, keyName(period, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("audit: data key %s: %w", keyName(period, id), err)
	}
	return e.Value(), nil
}

// directGetLast asks stream for the last message on subject with
// JetStream's direct get API. A stream that does not exist has no
// responders; one without the subject answers 404: both are errNoKey.
func directGetLast(ctx context.Context, nc *nats.Conn, stream, subject string) ([]byte, error) {
	m, err := nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+stream+"."+subject, nil)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, errNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("audit: data key %s: %w", subject, err)
	}
	switch status := m.Header.Get("Status"); status {
	case "":
		return m.Data, nil
	case "404":
		return nil, errNoKey
	default:
		return nil, fmt.Errorf("audit: data key %s: JetStream answered %s %s", subject, status, m.Header.Get("Description"))
	}
}

// keyStreams returns the periods that have a key stream, with the stream
// names.
func keyStreams(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	out := map[string]string{}
	names := js.StreamNames(ctx, jetstream.WithStreamListSubject(bus.AuditKeysPrefix+">"))
	for name := range names.Name() {
		if period, ok := strings.CutPrefix(name, bus.AuditKeysStreamPrefix); ok {
			out[period] = name
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("audit: list the key streams: %w", err)
	}
	return out, nil
}

// periodKeys returns the ids of the keys stored in period's stream, with
// how many stored messages hold each.
func periodKeys(ctx context.Context, js jetstream.JetStream, stream, period string) (map[string]int, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("audit: key stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(bus.AuditKey(period, "*")))
	if err != nil {
		return nil, fmt.Errorf("audit: key stream %s: %w", stream, err)
	}
	out := map[string]int{}
	for subj, n := range info.State.Subjects {
		out[strings.TrimPrefix(subj, bus.AuditKeysPrefix+period+".")] = int(n)
	}
	return out, nil
}

// periodEnded reports whether period ("2006-01") ended on or before t.
func periodEnded(period string, t time.Time) bool {
	start, err := time.Parse("2006-01", period)
	return err == nil && !start.AddDate(0, 1, 0).After(t)
}
