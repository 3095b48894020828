package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// publishRaw appends a record the way anyone with publish rights on the
// audit subject could, bypassing Log; sign may alter the bytes.
func publishRaw(t *testing.T, js jetstream.JetStream, r *decision.Record, sign func([]byte) []byte) {
	t.Helper()
	data, err := json.Marshal(newEntry(r))
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(bus.AuditRecord)
	m.Data = sign(data)
	key := indexKey{InboundSeq: r.InboundSeq, MessageID: r.MessageID}
	if v, ok := key.header(); ok {
		m.Header.Set(indexHeader, v)
	}
	if _, err := js.PublishMsg(ctxT(t), m, jetstream.WithMsgID(dedupeKey(r))); err != nil {
		t.Fatal(err)
	}
}

// TestForgedRecordsAreNotActedOn is the regression test of a forged
// "delivered" record that the broker took for its own: records it did not
// sign are never returned by BySeq, ByMessage or Append, and are reported.
func TestForgedRecordsAreNotActedOn(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	now := time.Now()
	appendN(t, l, 1, 2, now)

	other := newKeyPair(t)
	unsigned, misSigned, tampered, squatted := rec(7, now), rec(8, now), rec(10, now), rec(11, now)
	publishRaw(t, js, unsigned, func(b []byte) []byte { return b })
	publishRaw(t, js, misSigned, func(b []byte) []byte {
		s, err := signRecord(other.signer, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	publishRaw(t, js, tampered, func(b []byte) []byte {
		s, err := signRecord(k.signer, b)
		if err != nil {
			t.Fatal(err)
		}
		// Signed by the broker, then altered.
		return []byte(string(s[:1]) + `"x":1,` + string(s[1:]))
	})
	// A forged record under the message id the broker's own record of
	// inbound message 11 will have.
	publishRaw(t, js, squatted, func(b []byte) []byte { return b })
	if err := l.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	check := func(l *Log) {
		t.Helper()
		for _, r := range []*decision.Record{misSigned, tampered, squatted} {
			if got, err := l.BySeq(ctxT(t), r.InboundSeq, r.MessageID); got != nil || err != nil {
				t.Fatalf("forged record of inbound %d found by sequence: %+v %v", r.InboundSeq, got, err)
			}
			if got, err := l.ByMessage(ctxT(t), r.MessageID); got != nil || err != nil {
				t.Fatalf("forged record of message %s found: %+v %v", r.MessageID, got, err)
			}
		}
	}
	check(l)
	if got, err := l.BySeq(ctxT(t), unsigned.InboundSeq, unsigned.MessageID); got != nil || err != nil {
		t.Fatalf("forged unsigned record found: %+v %v", got, err)
	}
	// The broker's own decision of inbound 11 is not replaced by the forged
	// one that took its message id first.
	mine := rec(11, now)
	mine.Outcome, mine.Rule = decision.Rejected, ""
	if got, err := l.Append(ctxT(t), mine, nil); err == nil || got != nil {
		t.Fatalf("append answered with a forged record: %+v %v", got, err)
	}
	// A genuine decision recorded after a forged one under the same inbound
	// message is found past it.
	genuine := rec(7, now)
	genuine.EnvelopeSHA256 = strings.Repeat("c", 64)
	if _, err := l.Append(ctxT(t), genuine, nil); err != nil {
		t.Fatal(err)
	}
	l.Close()
	check(openLog(t, js, k))
	if got, err := openLog(t, js, k).BySeq(ctxT(t), 7, fmt.Sprintf("%032x", 7)); err != nil || got == nil || got.DecisionID != genuine.DecisionID {
		t.Fatalf("the genuine record behind a forged one: %+v %v", got, err)
	}

	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ex, k.verifier); err != nil {
		t.Fatal(err)
	}
	bad, legacy := CheckRecordSignatures(ex, k.verifier)
	if legacy != 0 || len(bad) != 4 {
		t.Fatalf("bad records %v, %d legacy; want 3..6", bad, legacy)
	}
	for i, want := range []error{ErrUnsigned, ErrBadRecordSignature, ErrBadRecordSignature, ErrUnsigned} {
		if bad[i].Position != int64(i+3) || !errors.Is(bad[i].Err, want) {
			t.Fatalf("bad record %d: %+v, want position %d and %v", i, bad[i], i+3, want)
		}
	}
}

// TestUnsignedRecordsBeforeSigning: records written before records were
// signed are still the broker's; unsigned ones after a signed one are not.
func TestUnsignedRecordsBeforeSigning(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	now := time.Now()
	// The stream as a broker made it before records were signed.
	if _, err := js.CreateStream(ctxT(t), jetstream.StreamConfig{Name: bus.StreamAudit, Subjects: []string{bus.AuditRecord},
		Storage: jetstream.FileStorage, DenyDelete: true, DenyPurge: true}); err != nil {
		t.Fatal(err)
	}
	old := rec(1, now)
	publishRaw(t, js, old, func(b []byte) []byte { return b })
	l := openLog(t, js, k)
	if got, err := l.BySeq(ctxT(t), 1, fmt.Sprintf("%032x", 1)); err != nil || got == nil || got.DecisionID != old.DecisionID {
		t.Fatalf("record from before signing: %+v %v", got, err)
	}
	appendN(t, l, 2, 1, now)
	late := rec(3, now)
	publishRaw(t, js, late, func(b []byte) []byte { return b })
	if err := l.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := l.BySeq(ctxT(t), 3, fmt.Sprintf("%032x", 3)); got != nil || err != nil {
		t.Fatalf("unsigned record after a signed one: %+v %v", got, err)
	}
	if got, err := l.BySeq(ctxT(t), 1, fmt.Sprintf("%032x", 1)); err != nil || got == nil {
		t.Fatalf("record from before signing, after a signed one: %+v %v", got, err)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	bad, legacy := CheckRecordSignatures(ex, k.verifier)
	if legacy != 1 || len(bad) != 1 || bad[0].Position != 3 || ex.SignedFrom != 2 {
		t.Fatalf("bad %v, legacy %d, signed from %d", bad, legacy, ex.SignedFrom)
	}
	// An unsigned record first in a new log is not taken for an old one.
	ns2 := startServer(t, t.TempDir())
	js2 := connect(t, ns2.ClientURL())
	l2 := openLog(t, js2, k)
	publishRaw(t, js2, rec(1, now), func(b []byte) []byte { return b })
	if err := l2.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got, err := l2.BySeq(ctxT(t), 1, fmt.Sprintf("%032x", 1)); got != nil || err != nil {
		t.Fatalf("unsigned first record of a new log: %+v %v", got, err)
	}
}
