package limits_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, url := brokertest.RunJetStream(t, brokertest.ServerName("limits-test"))
	js := brokertest.JetStream(t, url)
	return js
}

func TestDefaultsAreComplete(t *testing.T) {
	d := limits.Default(0)
	for name, s := range map[string]limits.Stream{
		"In": d.In, "Out": d.Out, "Receipts": d.Receipts, "Seen": d.Seen,
		"Audit": d.Audit, "AuditCheckpoints": d.AuditCheckpoints, "AuditKeys": d.AuditKeys, "Consent": d.Consent,
	} {
		if s.MaxBytes <= 0 || s.MaxMsgs <= 0 || s.MaxMsgSize <= 0 {
			t.Errorf("%s: default %+v leaves a limit unset", name, s)
		}
	}
	if d.In.MaxMsgSize != limits.EnvelopeMsgSize(0) || d.Audit.MaxMsgSize < d.In.MaxMsgSize {
		t.Errorf("the inbound stream takes %d bytes a message and the audit stream %d; both must take an oversized envelope (%d)",
			d.In.MaxMsgSize, d.Audit.MaxMsgSize, limits.EnvelopeMsgSize(0))
	}
	if got := limits.Default(4 << 20).In.MaxMsgSize; got != limits.EnvelopeMsgSize(4<<20) {
		t.Errorf("Default(4 MiB).In.MaxMsgSize = %d, want %d", got, limits.EnvelopeMsgSize(4<<20))
	}
	got := limits.Streams{Audit: limits.Stream{MaxBytes: 10, MaxMsgs: limits.Unlimited}}.Or(d)
	if got.Audit.MaxBytes != 10 || got.Audit.MaxMsgs != limits.Unlimited || got.Audit.MaxMsgSize != d.Audit.MaxMsgSize || got.In != d.In {
		t.Errorf("Or kept %+v, want the set fields and the defaults of the rest", got.Audit)
	}
}

// TestFullStreamRefuses: a full stream fails the publisher's PubAck and keeps
// what it holds, per stream and per agency.
func TestFullStreamRefuses(t *testing.T) {
	js := jetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := jetstream.StreamConfig{Name: "LIMITED", Subjects: []string{"limited.>"}, Retention: jetstream.WorkQueuePolicy}
	limits.Stream{MaxBytes: 4096, MaxMsgs: 100, MaxMsgSize: 2048, MaxMsgsPerAgency: 2}.Apply(&sc, true)
	st, err := js.CreateStream(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("x"), 1000)
	if _, err := js.Publish(ctx, "limited.a", bytes.Repeat([]byte("x"), 4000)); err == nil {
		t.Fatal("a message over MaxMsgSize was stored")
	}
	for range 2 {
		if _, err := js.Publish(ctx, "limited.a", msg); err != nil {
			t.Fatal(err)
		}
	}
	// Agency a has used its share; b still has room.
	if _, err := js.Publish(ctx, "limited.a", msg); err == nil {
		t.Fatal("a third message of one agency was stored beyond MaxMsgsPerAgency")
	}
	if _, err := js.Publish(ctx, "limited.b", msg); err != nil {
		t.Fatalf("another agency's message was refused: %v", err)
	}
	// The stream is now near 4 KiB: the next message does not fit.
	var apiErr *jetstream.APIError
	if _, err := js.Publish(ctx, "limited.c", msg); err == nil {
		t.Fatal("a message beyond MaxBytes was stored")
	} else if !errors.As(err, &apiErr) {
		t.Fatalf("publish beyond MaxBytes: %v, want a JetStream refusal", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 || info.State.FirstSeq != 1 {
		t.Fatalf("stream holds %d messages from %d; a full stream must keep the first 3", info.State.Msgs, info.State.FirstSeq)
	}
}

// TestBucketLimits: a bucket gets every limit, MaxMsgs included, and a full
// bucket refuses a new key.
func TestBucketLimits(t *testing.T) {
	js := jetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lim := limits.Stream{MaxBytes: 1 << 20, MaxMsgs: 3, MaxMsgSize: 64}
	kc := jetstream.KeyValueConfig{Bucket: "limited"}
	lim.ApplyKV(&kc)
	kv, err := js.CreateOrUpdateKeyValue(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	if err := lim.Bucket(ctx, js, "limited"); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "KV_limited")
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if c.MaxBytes != lim.MaxBytes || c.MaxMsgs != lim.MaxMsgs || c.MaxMsgSize != lim.MaxMsgSize || c.Discard != jetstream.DiscardNew {
		t.Fatalf("bucket stream limits %d bytes, %d msgs, %d per msg, discard %v; want %+v and DiscardNew",
			c.MaxBytes, c.MaxMsgs, c.MaxMsgSize, c.Discard, lim)
	}
	if _, err := kv.Put(ctx, "big", bytes.Repeat([]byte("x"), 100)); err == nil {
		t.Fatal("a value over MaxMsgSize was stored")
	}
	for _, k := range []string{"a", "b", "c"} {
		if _, err := kv.Create(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Create(ctx, "d", []byte("v")); err == nil {
		t.Fatal("a fourth key was stored beyond MaxMsgs")
	}
	if e, err := kv.Get(ctx, "a"); err != nil || string(e.Value()) != "v" {
		t.Fatalf("the first key was dropped to make room: %v", err)
	}
}
