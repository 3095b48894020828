package audit

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// startServer starts a NATS server with JetStream in dir on a random
// loopback port.
func startServer(t testing.TB, dir string) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		ServerName: "audit-test", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(60 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// keyPair is the broker's audit key.
type keyPair struct {
	signer   note.Signer
	verifier note.Verifiers // the log's key history, here of one key
}

func newKeyPair(t testing.TB) keyPair {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "sekretessbroker/audit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{s, note.VerifierList(v)}
}

func newAuditor(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func openLog(t testing.TB, js jetstream.JetStream, k keyPair, auditors ...age.Recipient) *Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := Open(ctx, Config{JetStream: js, Signer: k.signer, Auditors: auditors,
		CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func rec(i int, at time.Time) *decision.Record {
	created := at.Add(-time.Second)
	r := &decision.Record{
		DecisionID: decision.NewID(), DecidedAt: at.UTC(), InboundSeq: uint64(i),
		MessageID: fmt.Sprintf("%032x", i), Sender: "rosengard-skola", Recipient: "soc-malmo", Kind: "concern_report",
		CreatedAt: &created, Category: "concern", Outcome: decision.Delivered, Rule: "R-CONCERN", Basis: "SoL 14 kap. 1 §",
		PolicyRevision: "rev-1", InputSHA256: strings.Repeat("b", 64), EnvelopeSHA256: strings.Repeat("a", 64),
	}
	if i%3 == 0 {
		r.Outcome, r.Rule, r.Basis = decision.Rejected, "", ""
		// <, > and & survive export and verification byte for byte.
		r.Reasons = []string{"no rule allows health data to the police", "age < 18 & consent > none"}
	}
	return r
}

func personal(i int) *Personal {
	return PersonalFromClaims(map[string]any{
		"category": "concern",
		"subject":  map[string]any{"pseudonym": fmt.Sprintf("elev-%d", i)},
		"interest_assessment": map[string]any{
			"by": "rektor", "at": "2026-11-01T10:00:00Z", "outcome": "disclose", "reason": "risk för eleven",
		},
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appendN appends records 1..n and returns them.
func appendN(t testing.TB, l *Log, from, n int, at time.Time) []*decision.Record {
	t.Helper()
	var out []*decision.Record
	for i := from; i < from+n; i++ {
		r := rec(i, at)
		got, err := l.Append(ctxT(t), r, personal(i))
		if err != nil {
			t.Fatal(err)
		}
		if got.DecisionID != r.DecisionID {
			t.Fatalf("append %d returned another decision", i)
		}
		out = append(out, r)
	}
	return out
}
