package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// startAuditBroker runs a broker on a data directory made by brokerctl init
// and returns it with its NATS URL.
func startAuditBroker(t *testing.T) (svc *service.Service, data, url string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "data")
	var out bytes.Buffer
	if err := run([]string{"init", "--data", data}, &out); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err = service.Start(ctx, service.Config{
		DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"), NATSListen: listen,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Shutdown(context.Background()) })
	return svc, data, "nats://" + listen
}

// TestAuditorCannotWrite: init makes an auditor in the directory; the audit
// commands read the log with it, and it can neither append a record nor
// change the audit stream.
func TestAuditorCannotWrite(t *testing.T) {
	svc, data, url := startAuditBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(layout.BrokerKeys(data), keys.AuditorNKeyFile)
	_, pub, err := keys.LoadNKeySeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Auditors) != 1 || d.Auditors[0].NKey != pub {
		t.Fatalf("directory auditors %+v, want the key of %s", d.Auditors, seed)
	}
	for i := range 2 {
		r := &decision.Record{DecisionID: decision.NewID(), DecidedAt: time.Now(), InboundSeq: uint64(i + 1),
			Sender: "a", Recipient: "b", Outcome: decision.Rejected, ErrorCode: "malformed", EnvelopeSHA256: strings.Repeat("a", 64)}
		if _, err := svc.Audit.Append(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	// The audit commands log in as the auditor by default.
	var out bytes.Buffer
	if err := run([]string{"audit", "verify", "--data", data, "--nats-url", url}, &out); err != nil || !strings.Contains(out.String(), "2 records") {
		t.Fatalf("verify as auditor: %v %s", err, out.String())
	}
	out.Reset()
	if err := run([]string{"audit", "export", "--data", data, "--nats-url", url}, &out); err != nil || !strings.Contains(out.String(), audit.ExportFormat) {
		t.Fatalf("export as auditor: %v", err)
	}

	violations := make(chan error, 16)
	nkeyOpt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, nkeyOpt, nats.CustomInboxPrefix(bus.AuditorInbox),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				violations <- err
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, bus.StreamAudit)
	if err != nil {
		t.Fatalf("the auditor cannot read the stream's info: %v", err)
	}
	before := stream.CachedInfo()
	refused := func(what string, call func(context.Context) error) {
		t.Helper()
		// A refused request gets no answer: it ends with this deadline.
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		if err := call(cctx); err == nil {
			t.Fatalf("%s as the auditor succeeded", what)
		}
		select {
		case err := <-violations:
			t.Logf("%s: %v", what, err)
		case <-ctx.Done():
			t.Fatalf("%s: no permission violation reported", what)
		}
	}
	refused("publish on the audit subject", func(c context.Context) error {
		_, err := js.Publish(c, bus.AuditRecord, []byte(`{"decision_id":"x","decision":{"decision_id":"x","outcome":"delivered"}}`))
		return err
	})
	refused("update of the audit stream", func(c context.Context) error {
		cfg := before.Config
		cfg.MaxMsgs = 3
		_, err := js.UpdateStream(c, cfg)
		return err
	})
	refused("delete of a period's key stream", func(c context.Context) error {
		return js.DeleteStream(c, bus.AuditKeysStream(audit.Period(time.Now())))
	})
	refused("delete of a record", func(c context.Context) error {
		return stream.DeleteMsg(c, 1)
	})
	after, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.State.LastSeq != before.State.LastSeq || after.Config.MaxMsgs != before.Config.MaxMsgs {
		t.Fatalf("the auditor changed the stream: %+v → %+v", before.State, after.State)
	}
}

// TestForgedRecordIsReported is the regression test of a forged
// "delivered" record published with the broker's own NATS credentials: the
// broker does not take it for its decision, and audit verify names it.
func TestForgedRecordIsReported(t *testing.T) {
	svc, data, url := startAuditBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, js, err := service.ConnectAsBroker(data, url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := decision.Record{DecisionID: decision.NewID(), DecidedAt: time.Now(), InboundSeq: 41, MessageID: strings.Repeat("f", 32),
		Sender: "a", Recipient: "b", Kind: "disclosure", Outcome: decision.Delivered, Rule: "R-FORGED", EnvelopeSHA256: strings.Repeat("e", 64)}
	body, err := json.Marshal(map[string]any{"decision_id": forged.DecisionID, "path": audit.DecisionPath, "decision": forged,
		"result": map[string]any{"allow": true, "rule": "R-FORGED"}})
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(bus.AuditRecord)
	m.Data = body
	m.Header.Set("Sekretess-Index", "41,"+forged.MessageID+",")
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := svc.Audit.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := svc.Audit.Head(); n != 1 {
		t.Fatalf("the log holds %d records, want the forged one", n)
	}
	if r, err := svc.Audit.BySeq(ctx, 41, forged.MessageID); r != nil || err != nil {
		t.Fatalf("the broker took the forged record for its decision of inbound 41: %+v %v", r, err)
	}
	if r, err := svc.Audit.ByMessage(ctx, forged.MessageID); r != nil || err != nil {
		t.Fatalf("the broker took the forged record for the decision of its message: %+v %v", r, err)
	}
	// A genuine record after it, so the forged one is not taken for one
	// written before records were signed.
	genuine := &decision.Record{DecisionID: decision.NewID(), DecidedAt: time.Now(), InboundSeq: 42,
		Outcome: decision.Rejected, ErrorCode: "malformed", EnvelopeSHA256: strings.Repeat("a", 64)}
	if _, err := svc.Audit.Append(ctx, genuine, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = run([]string{"audit", "verify", "--data", data, "--nats-url", url}, &out)
	if err == nil || !strings.Contains(err.Error(), "position 1") || !strings.Contains(out.String(), "record 1: not written by the broker") {
		t.Fatalf("verify of a log with a forged record: %v\n%s", err, out.String())
	}
}
