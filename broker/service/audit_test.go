package service_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestAuditKeyCreatedOnStart starts a data directory made before the audit
// key existed: the broker creates one, and its checkpoints verify with it.
func TestAuditKeyCreatedOnStart(t *testing.T) {
	w := newWorld(t)
	w.stop()
	bdir := layout.BrokerKeys(w.data)
	for _, f := range []string{keys.AuditKeyFile, keys.AuditPublicKeyFile} {
		if err := os.Remove(filepath.Join(bdir, f)); err != nil {
			t.Fatal(err)
		}
	}
	w.start()
	if fi, err := os.Stat(filepath.Join(bdir, keys.AuditKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit key after start: %v %v", fi, err)
	}
	v, err := keys.LoadAuditVerifiers(filepath.Join(bdir, keys.AuditPublicKeyFile))
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
	for _, s := range []string{bus.StreamAudit, bus.StreamAuditCheckpoints, "KV_" + bus.BucketAuditKeys, bus.AuditKeysStream(audit.Period(time.Now()))} {
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

// TestTwoBrokersOneAuditLog runs a second broker against the first one's
// NATS server: both take inbound messages from the shared consumer and
// append to the one audit log, which records each message once and verifies.
func TestTwoBrokersOneAuditLog(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := ctxT()
	defer cancel()
	second, err := service.Start(ctx, service.Config{
		DataDir: w.data, PolicyDir: filepath.Join("..", "..", "policies"),
		NATSURL: w.svc.NATSURL(), ReloadInterval: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Shutdown(context.Background()) })
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	const n = 60
	ids := map[string]bool{}
	for i := range n {
		raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report",
			Metadata: concern(fmt.Sprintf("elev-%d", i)), Payload: []byte("rapport")})
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Publish(ctx, raw, id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	for got := 0; got < n; got++ {
		d, err := soc.Next(ctx)
		if err != nil {
			t.Fatalf("after %d deliveries: %v", got, err)
		}
		d.Ack()
	}
	first := testutil.ToFloat64(w.svc.Metrics.Decisions.WithLabelValues("delivered", "R-CONCERN"))
	other := testutil.ToFloat64(second.Metrics.Decisions.WithLabelValues("delivered", "R-CONCERN"))
	t.Logf("decided by the first broker: %v, by the second: %v", first, other)
	if first+other != n {
		t.Fatalf("%v + %v decisions for %d messages", first, other, n)
	}
	if _, err := second.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	perMessage := map[string]int{}
	for _, r := range auditRecords(t, w) { // verifies both brokers' checkpoints too
		perMessage[r.MessageID]++
	}
	for id := range ids {
		if perMessage[id] != 1 {
			t.Errorf("message %s has %d audit records", id, perMessage[id])
		}
	}
}
