package audit

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// startSyncedServer starts a server that writes every message to disk
// before acknowledging it. With an empty key the store is not encrypted, so
// the files can be read as they are; with a key it is encrypted as the
// embedded server's store is by default.
func startSyncedServer(t *testing.T, dir, key string) *server.Server {
	t.Helper()
	opts := &server.Options{
		ServerName: "shred-test", Host: "127.0.0.1", Port: -1,
		JetStream: true, StoreDir: dir, SyncAlways: true, NoSigs: true, NoLog: true,
	}
	if key != "" {
		opts.JetStreamKey, opts.JetStreamCipher = key, server.ChaCha
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	return ns
}

func stopServer(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

// waitGone waits until none of paths exists.
func waitGone(t *testing.T, paths ...string) {
	t.Helper()
	ctx := ctxT(t)
	for _, p := range paths {
		if poll.Until(ctx, func() bool {
			_, err := os.Stat(p)
			return errors.Is(err, fs.ErrNotExist)
		}) != nil {
			t.Fatalf("%s is still on disk", p)
		}
	}
}

// filesHolding returns the files under dir that contain b.
func filesHolding(t *testing.T, dir string, b []byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, b) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShredErasesTheKeyFromDisk is the regression test of shredded keys that
// stayed in the store's block files: after a shred, no file of the JetStream
// store holds the wrapped key, even after a restart; on an encrypted store
// (the embedded server's default, where JetStream's secure delete does not
// overwrite) the period's stream, its blocks and their keys are gone, so the
// store's key cannot bring it back.
func TestShredErasesTheKeyFromDisk(t *testing.T) {
	for _, tc := range []struct{ name, key string }{
		{"plain store", ""},
		{"encrypted store", "a store key of the broker's own, as in jetstream.key"},
	} {
		t.Run(tc.name, func(t *testing.T) { testShredErases(t, tc.key) })
	}
}

func testShredErases(t *testing.T, storeKey string) {
	dir := t.TempDir()
	k := newKeyPair(t)
	auditor := newAuditor(t)
	oct := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
	nov := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	ns := startSyncedServer(t, dir, storeKey)
	js := connect(t, ns.ClientURL())
	l, err := Open(ctxT(t), Config{JetStream: js, Signer: k.signer, Auditors: []age.Recipient{auditor.Recipient()},
		CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 2, oct)
	appendN(t, l, 3, 2, nov)
	wrapped := map[string][]byte{} // period → wrapped key
	for _, i := range []int{0, 2} {
		e := mustEntryOf(t, js, i)
		b, err := getKey(ctxT(t), js, e.Personal.Period, e.Personal.KeyID)
		if err != nil {
			t.Fatal(err)
		}
		wrapped[e.Personal.Period] = b
	}
	if len(wrapped["2026-10"]) == 0 || len(wrapped["2026-11"]) == 0 {
		t.Fatalf("keys stored: %v", wrapped)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	stopServer(ns)
	octStream := filepath.Join(dir, "jetstream", "$G", "streams", bus.AuditKeysStream("2026-10"))
	if _, err := os.Stat(octStream); err != nil {
		t.Fatalf("the key stream of 2026-10 is not where the check below looks: %v", err)
	}
	// Not vacuous: a plain store holds the wrapped key before the shred.
	if got := filesHolding(t, dir, wrapped["2026-10"]); storeKey == "" && len(got) == 0 {
		t.Fatal("the wrapped key of 2026-10 is in no file before the shred; the check below would prove nothing")
	}

	ns = startSyncedServer(t, dir, storeKey)
	js = connect(t, ns.ClientURL())
	// The current period and later ones are refused, and nothing is destroyed.
	for _, before := range []time.Time{now, now.AddDate(0, 2, 0), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} {
		if rep, err := Shred(ctxT(t), js, k.signer, before, now); !errors.Is(err, ErrShredTooLate) || rep != nil {
			t.Fatalf("shred --before %s at %s: %+v %v", before, now, rep, err)
		}
	}
	rep, err := Shred(ctxT(t), js, k.signer, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Keys) != 1 || rep.Keys[0].Period != "2026-10" || rep.Keys[0].KeyID == "" || rep.Keys[0].Copies != 1 ||
		rep.Keys[0].How != HowStreamDeleted || !rep.Erased {
		t.Fatalf("report: %+v", rep)
	}
	// Run again, it finds nothing left to destroy.
	if again, err := Shred(ctxT(t), js, k.signer, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), now); err != nil || len(again.Keys) != 0 {
		t.Fatalf("second shred: %+v %v", again, err)
	}
	// The period's stream goes from disk, blocks and block keys alike.
	// JetStream renames a deleted stream's folder with a "." in front and
	// removes it in the background (a server stopped first removes it as it
	// starts again), so wait for both names to go.
	waitGone(t, octStream, filepath.Join(filepath.Dir(octStream), "."+filepath.Base(octStream)))
	stopServer(ns)

	if got := filesHolding(t, dir, wrapped["2026-10"]); len(got) != 0 {
		t.Fatalf("the shredded key is still on disk in %v", got)
	}
	// Its age payload (the last bytes, which hold the wrapped data key) is
	// gone too, not only the whole value.
	if got := filesHolding(t, dir, wrapped["2026-10"][len(wrapped["2026-10"])-48:]); len(got) != 0 {
		t.Fatalf("the shredded key's payload is still on disk in %v", got)
	}
	if got := filesHolding(t, dir, wrapped["2026-11"]); storeKey == "" && len(got) == 0 {
		t.Fatal("the kept period's key is gone from disk")
	}

	// After a restart with the store's key: the log verifies, the shred is
	// its last record, signed by the broker, the shredded period does not
	// open, and the kept one does.
	ns = startSyncedServer(t, dir, storeKey)
	t.Cleanup(func() { stopServer(ns) })
	js = connect(t, ns.ClientURL())
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ex, k.verifier); err != nil {
		t.Fatal(err)
	}
	if bad, legacy := CheckRecordSignatures(ex, k.verifier); len(bad) != 0 || legacy != 0 {
		t.Fatalf("signatures: %v, %d legacy", bad, legacy)
	}
	last := mustEntry(t, ex, len(ex.Records)-1)
	if d := last.Decision; d.Outcome != decision.KeyEvent || d.Kind != decision.KindDataKeyShredded || d.KeyID != rep.Keys[0].KeyID {
		t.Fatalf("last record: %+v", d)
	}
	if _, err := NewOpener(js, auditor).Open(ctxT(t), mustEntry(t, ex, 0).Personal, mustEntry(t, ex, 0).DecisionID); !errors.Is(err, ErrShredded) {
		t.Fatalf("shredded record: %v", err)
	}
	if p, err := NewOpener(js, auditor).Open(ctxT(t), mustEntry(t, ex, 2).Personal, mustEntry(t, ex, 2).DecisionID); err != nil || p.Pseudonym != "elev-3" {
		t.Fatalf("kept record: %+v %v", p, err)
	}
}

// mustEntryOf reads the audit stream and returns its i-th record.
func mustEntryOf(t *testing.T, js jetstream.JetStream, i int) *Entry {
	t.Helper()
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	return mustEntry(t, ex, i)
}

// TestShredOfAnOldBucketPurges: before per-period key streams, keys were in
// a key-value bucket, which a bucket made through the key-value API lets
// only purge. Its keys are still read, and Shred purges them and says they
// were not erased.
func TestShredOfAnOldBucketPurges(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	ctx := ctxT(t)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bus.BucketAuditKeys, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	k := newKeyPair(t)
	auditor := newAuditor(t)
	l := openLog(t, js, k, auditor.Recipient())
	appendN(t, l, 1, 1, time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC))

	// Move the period's key where an older broker kept it.
	e := mustEntryOf(t, js, 0)
	wrapped, err := getKey(ctx, js, e.Personal.Period, e.Personal.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, keyName(e.Personal.Period, e.Personal.KeyID), wrapped); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, bus.AuditKeysStream(e.Personal.Period)); err != nil {
		t.Fatal(err)
	}
	if p, err := NewOpener(js, auditor).Open(ctx, e.Personal, e.DecisionID); err != nil || p.Pseudonym != "elev-1" {
		t.Fatalf("record sealed under a key in the old bucket: %+v %v", p, err)
	}

	rep, err := Shred(ctx, js, k.signer, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	if err != nil || len(rep.Keys) != 1 || rep.Keys[0].How != HowPurged || rep.Erased {
		t.Fatalf("shred: %+v %v", rep, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		t.Fatal(err)
	}
	if err == nil {
		for name := range keys.Keys() {
			t.Fatalf("key %s left after the shred", name)
		}
	}
	if _, err := NewOpener(js, auditor).Open(ctx, e.Personal, e.DecisionID); !errors.Is(err, ErrShredded) {
		t.Fatalf("after the shred: %v", err)
	}
}
