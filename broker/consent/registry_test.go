package consent_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// openRegistry starts NATS with JetStream on a random loopback port and
// opens the registry on it, as the broker does.
func openRegistry(t *testing.T) (*consent.Registry, jetstream.JetStream) {
	t.Helper()
	_, url := brokertest.RunJetStream(t, brokertest.ServerName("consent-test"))
	js := brokertest.JetStream(t, url)
	reg, err := consent.Open(t.Context(), js, 1, limits.Stream{})
	if err != nil {
		t.Fatal(err)
	}
	return reg, js
}

// rewrite overwrites the record under ref as an agency may with its own
// keys: a plain write over the last revision.
func rewrite(t *testing.T, js jetstream.JetStream, ref string, edit func(*consent.Record)) {
	t.Helper()
	kv, err := js.KeyValue(t.Context(), consent.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	var r consent.Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	b, _ := json.Marshal(r)
	if _, err := kv.Update(t.Context(), ref, b, e.Revision()); err != nil {
		t.Fatal(err)
	}
}

func TestResolveRefusesRewrittenConsent(t *testing.T) {
	reg, js := openRegistry(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	put := func(id string) string {
		r := valid()
		r.ID = id
		ref, err := reg.Put(ctx, "soc-malmo", r)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}

	// As recorded, and once withdrawn, the record resolves.
	kept := put("kept")
	if m, err := reg.Resolve(ctx, kept); err != nil || m["purpose"] != "samordnat stöd" {
		t.Fatalf("Resolve of a new consent = %v, %v", m, err)
	}
	if _, err := reg.Withdraw(ctx, kept, time.Now()); err != nil {
		t.Fatal(err)
	}
	if m, err := reg.Resolve(ctx, kept); err != nil || m["withdrawn_at"] == nil {
		t.Fatalf("Resolve of a withdrawn consent = %v, %v", m, err)
	}

	// Widened after the guardians gave it: unusable.
	widened := put("widened")
	rewrite(t, js, widened, func(r *consent.Record) { r.Recipients = append(r.Recipients, "polisen-syd") })
	if _, err := reg.Resolve(ctx, widened); !errors.Is(err, consent.ErrInvalid) || !strings.Contains(err.Error(), "changed after it was recorded") {
		t.Fatalf("Resolve of a widened consent = %v, want ErrInvalid", err)
	}

	// Widened, then put back as it was: the history still shows the edit.
	restored := put("restored")
	rewrite(t, js, restored, func(r *consent.Record) { r.Categories = []string{"case_details", "health"} })
	rewrite(t, js, restored, func(r *consent.Record) { r.Categories = []string{"case_details"} })
	if _, err := reg.Resolve(ctx, restored); !errors.Is(err, consent.ErrInvalid) || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("Resolve of a rewritten consent = %v, want ErrInvalid", err)
	}

	// Withdrawn, and the record rewritten to drop the withdrawal.
	revived := put("revived")
	if _, err := reg.Withdraw(ctx, revived, time.Now()); err != nil {
		t.Fatal(err)
	}
	rewrite(t, js, revived, func(r *consent.Record) { r.WithdrawnAt = nil })
	if _, err := reg.Resolve(ctx, revived); !errors.Is(err, consent.ErrInvalid) {
		t.Fatalf("Resolve of a revived consent = %v, want ErrInvalid", err)
	}
}

// TestRollupRefused: a roll-up would let an agency erase its consent's
// history, or every agency's consents; the bucket refuses it.
func TestRollupRefused(t *testing.T) {
	reg, js := openRegistry(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	r := valid()
	ref, err := reg.Put(ctx, "soc-malmo", r)
	if err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{jetstream.MsgRollupSubject, jetstream.MsgRollupAll} {
		r.ID, r.Recipients = ref, append(r.Recipients, "polisen-syd")
		b, _ := json.Marshal(r)
		m := nats.NewMsg("$KV." + consent.Bucket + "." + ref)
		m.Data = b
		m.Header.Set(jetstream.MsgRollup, scope)
		if _, err := js.PublishMsg(ctx, m); err == nil {
			t.Fatalf("a roll-up (%s) of %s was stored", scope, ref)
		}
	}
	if m, err := reg.Resolve(ctx, ref); err != nil || len(m["recipients"].([]any)) != 1 {
		t.Fatalf("the consent after refused roll-ups: %v, %v", m, err)
	}
	// Opening the registry again (every broker start) keeps them refused.
	if _, err := consent.Open(ctx, js, 1, limits.Stream{}); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, "KV_"+consent.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if s.CachedInfo().Config.AllowRollup {
		t.Fatal("the consent bucket allows roll-ups after a restart")
	}
}
