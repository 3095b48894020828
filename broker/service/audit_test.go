package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// TestAuditKeyCreatedOnStart starts a data directory made before the audit
// key existed: the broker creates one, and its checkpoints verify with it.
func TestAuditKeyCreatedOnStart(t *testing.T) {
	w := newWorld(t)
	w.stop()
	bdir := filepath.Join(w.data, service.BrokerDir)
	for _, f := range []string{keys.AuditKeyFile, keys.AuditPublicKeyFile} {
		if err := os.Remove(filepath.Join(bdir, f)); err != nil {
			t.Fatal(err)
		}
	}
	w.start()
	if fi, err := os.Stat(filepath.Join(bdir, keys.AuditKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit key after start: %v %v", fi, err)
	}
	v, err := keys.LoadAuditVerifier(filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := ctxT()
	defer cancel()
	msg, err := w.svc.Audit.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.OpenCheckpoint(msg, v); err != nil {
		t.Fatal(err)
	}
}

// TestAgencyCannotReadAudit: the audit log, its checkpoints and its keys are
// the broker's and the auditors'; an agency's NATS user cannot reach them.
func TestAgencyCannotReadAudit(t *testing.T) {
	w := newWorld(t)
	js, err := jetstream.New(w.rawConn(school))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{bus.StreamAudit, bus.StreamAuditCheckpoints, "KV_" + bus.BucketAuditKeys} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := js.Stream(ctx, s)
		cancel()
		if err == nil {
			t.Errorf("agency %s reads stream %s", school, s)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := js.Publish(ctx, bus.AuditRecord, []byte("{}")); err == nil {
		t.Error("an agency appended to the audit log")
	}
}
