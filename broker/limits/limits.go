// Package limits bounds every JetStream stream and key-value bucket of the
// broker, so that no agency, and no backlog, can fill the disk.
//
// All defaults are here, in Default. Every stream refuses a message it has no
// room for (DiscardNew) rather than dropping an old one: a full inbound stream
// fails the publisher's PubAck, which the agency SDK reports; a full audit
// stream refuses the record, and the broker then holds the message back
// (back-pressure) instead of deciding it without a record.
//
// JetStream reserves each stream's MaxBytes against the server's storage
// limit when the stream is created, so the sum of the limits must fit on the
// disk: the defaults add up to about 4.4 GiB.
package limits

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
)

// Unlimited, in any field of a Stream, lifts that limit.
const Unlimited = -1

// Rate limit defaults of the daemon (see broker.Config.AgencyRate). A library
// caller that sets no rate gets none.
const (
	// DefaultAgencyRate is the sustained number of messages per second one
	// agency may send: far above any office's real traffic, far below what
	// would hold back every other agency's messages.
	DefaultAgencyRate = 20
	// DefaultAgencyBurst is how many messages an agency may send at once
	// above the rate, e.g. a batch after an outage of its own systems.
	DefaultAgencyBurst = 200
)

// Stream bounds one stream or key-value bucket. A zero field takes its
// default; Unlimited lifts the limit.
type Stream struct {
	// MaxBytes bounds the stream's storage.
	MaxBytes int64
	// MaxMsgs bounds the number of messages (or, in a bucket, of values
	// including their kept history).
	MaxMsgs int64
	// MaxMsgSize bounds one message (in a bucket, one value).
	MaxMsgSize int32
	// MaxMsgsPerAgency bounds the messages one agency's subject may hold in
	// the work-queue streams (inbound: per sender; outbound and receipts: per
	// recipient), so that one agency cannot take the whole stream's room
	// from the others. It is ignored for the audit streams and the buckets.
	MaxMsgsPerAgency int64
}

// Or returns s with each zero field taken from def.
func (s Stream) Or(def Stream) Stream {
	if s.MaxBytes == 0 {
		s.MaxBytes = def.MaxBytes
	}
	if s.MaxMsgs == 0 {
		s.MaxMsgs = def.MaxMsgs
	}
	if s.MaxMsgSize == 0 {
		s.MaxMsgSize = def.MaxMsgSize
	}
	if s.MaxMsgsPerAgency == 0 {
		s.MaxMsgsPerAgency = def.MaxMsgsPerAgency
	}
	return s
}

// jsLimit turns a limit into JetStream's form, where -1 is unlimited.
func jsLimit[T int32 | int64](v T) T {
	if v <= 0 {
		return -1
	}
	return v
}

// Apply sets s on a stream's configuration, with DiscardNew so that a full
// stream refuses new messages and never drops stored ones. The per-agency
// limit applies only with perAgency, to a stream whose last subject token is
// the agency id.
func (s Stream) Apply(sc *jetstream.StreamConfig, perAgency bool) {
	sc.MaxBytes = jsLimit(s.MaxBytes)
	sc.MaxMsgs = jsLimit(s.MaxMsgs)
	sc.MaxMsgSize = jsLimit(s.MaxMsgSize)
	sc.Discard = jetstream.DiscardNew
	sc.MaxMsgsPerSubject, sc.DiscardNewPerSubject = -1, false
	if perAgency && s.MaxMsgsPerAgency > 0 {
		sc.MaxMsgsPerSubject, sc.DiscardNewPerSubject = s.MaxMsgsPerAgency, true
	}
}

// ApplyKV sets the limits a key-value configuration can express; MaxMsgs
// needs Bucket after the bucket exists.
func (s Stream) ApplyKV(kc *jetstream.KeyValueConfig) {
	kc.MaxBytes = jsLimit(s.MaxBytes)
	kc.MaxValueSize = jsLimit(s.MaxMsgSize)
}

// Bucket applies s to the stream behind an existing key-value bucket,
// including MaxMsgs, which a key-value configuration cannot express. A
// bucket's stream already refuses new values when full (DiscardNew).
func (s Stream) Bucket(ctx context.Context, js jetstream.JetStream, bucket string) error {
	st, err := js.Stream(ctx, "KV_"+bucket)
	if err != nil {
		return fmt.Errorf("limits: bucket %s: %w", bucket, err)
	}
	cfg := st.CachedInfo().Config
	want := cfg
	want.MaxBytes, want.MaxMsgs, want.MaxMsgSize = jsLimit(s.MaxBytes), jsLimit(s.MaxMsgs), jsLimit(s.MaxMsgSize)
	want.Discard = jetstream.DiscardNew
	if want.MaxBytes == cfg.MaxBytes && want.MaxMsgs == cfg.MaxMsgs && want.MaxMsgSize == cfg.MaxMsgSize && want.Discard == cfg.Discard {
		return nil
	}
	if _, err := js.UpdateStream(ctx, want); err != nil {
		return fmt.Errorf("limits: bucket %s: %w", bucket, err)
	}
	return nil
}

// Streams holds the limits of each of the broker's streams and buckets.
type Streams struct {
	// In is SEKRETESS_IN, envelopes waiting for a decision.
	In Stream
	// Out is SEKRETESS_OUT, deliveries waiting for their recipient.
	Out Stream
	// Receipts is SEKRETESS_RECEIPTS, receipts waiting for their sender.
	Receipts Stream
	// Seen is the replay guard's bucket of recently accepted message ids.
	Seen Stream
	// Audit is SEKRETESS_AUDIT, the audit log. Full, it refuses records and
	// the broker stops deciding until the operator raises the limit.
	Audit Stream
	// AuditCheckpoints is SEKRETESS_AUDIT_CHECKPOINTS.
	AuditCheckpoints Stream
	// AuditKeys is the bucket of the audit log's wrapped data keys.
	AuditKeys Stream
	// Consent is the consent registry's bucket.
	Consent Stream
}

// Sizes used by the defaults.
const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// EnvelopeMsgSize is the largest message the envelope streams (inbound,
// outbound and audit) take for envelopes of up to maxEnvelope bytes (zero
// means envelope.DefaultMaxSize). It is above the envelope limit so that an
// oversized envelope reaches the broker and gets a rejection receipt instead
// of vanishing at publish time, and so that an audit record can hold a whole
// envelope's sealed claims.
func EnvelopeMsgSize(maxEnvelope int) int32 {
	if maxEnvelope <= 0 {
		maxEnvelope = envelope.DefaultMaxSize
	}
	return int32(2*maxEnvelope + 64*kib)
}

// Default returns the documented defaults for envelopes of up to
// maxEnvelope bytes (zero means envelope.DefaultMaxSize).
func Default(maxEnvelope int) Streams {
	env := EnvelopeMsgSize(maxEnvelope)
	return Streams{
		// A backlog of a few minutes' traffic of every agency; an agency's
		// own share is bounded so a flood fills only its own quota.
		In: Stream{MaxBytes: 512 * mib, MaxMsgs: 1_000_000, MaxMsgSize: env, MaxMsgsPerAgency: 10_000},
		// Deliveries wait here for days while a recipient is offline.
		Out:      Stream{MaxBytes: 1 * gib, MaxMsgs: 1_000_000, MaxMsgSize: env},
		Receipts: Stream{MaxBytes: 256 * mib, MaxMsgs: 1_000_000, MaxMsgSize: 1 * mib},
		// Ids of two clock windows (about eleven minutes) of traffic.
		Seen: Stream{MaxBytes: 256 * mib, MaxMsgs: 2_000_000, MaxMsgSize: 1 * kib},
		// About a million decisions; raise it with the deployment's volume
		// and retention (sekretessbroker --audit-max-bytes).
		Audit:            Stream{MaxBytes: 2 * gib, MaxMsgs: 10_000_000, MaxMsgSize: env},
		AuditCheckpoints: Stream{MaxBytes: 256 * mib, MaxMsgs: 1_000_000, MaxMsgSize: 64 * kib},
		AuditKeys:        Stream{MaxBytes: 16 * mib, MaxMsgs: 100_000, MaxMsgSize: 64 * kib},
		Consent:          Stream{MaxBytes: 128 * mib, MaxMsgs: 1_000_000, MaxMsgSize: 64 * kib},
	}
}

// Or returns s with each zero field of each stream taken from def.
func (s Streams) Or(def Streams) Streams {
	return Streams{
		In: s.In.Or(def.In), Out: s.Out.Or(def.Out), Receipts: s.Receipts.Or(def.Receipts), Seen: s.Seen.Or(def.Seen),
		Audit: s.Audit.Or(def.Audit), AuditCheckpoints: s.AuditCheckpoints.Or(def.AuditCheckpoints),
		AuditKeys: s.AuditKeys.Or(def.AuditKeys), Consent: s.Consent.Or(def.Consent),
	}
}
