package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestAuditCommands runs a broker, sends an allowed and a rejected message,
// and drives every brokerctl audit command against the stream and an export.
func TestAuditCommands(t *testing.T) {
	root := t.TempDir()
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	if err := run([]string{"demo", "--data", data, "--agencies", agencies}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	auditor, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	auditorFile := filepath.Join(t.TempDir(), "auditor.key")
	if err := os.WriteFile(auditorFile, []byte(auditor.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recipients := filepath.Join(t.TempDir(), "auditors.txt")
	if err := os.WriteFile(recipients, []byte(auditor.Recipient().String()+"\n"), 0o644); err != nil {
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
	svc, err := service.Start(ctx, service.Config{
		DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"), NATSListen: listen,
		AuditorsFile: recipients, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Shutdown(context.Background())
	url := "nats://" + listen

	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	id, err := agency.LoadIdentity(layout.AgencyHome(agencies, "rosengard-skola"), "rosengard-skola")
	if err != nil {
		t.Fatal(err)
	}
	sch, err := agency.Dial(ctx, agency.Config{URL: url, Identity: id, Directory: d})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	allowed, err := sch.Deliver(ctx, agency.Message{To: "soc-malmo", Kind: "concern_report",
		Metadata: map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-4711", "birth_date": "2013-05-02"}, "purpose": "orosanmälan"},
		Payload:  []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sch.Deliver(ctx, agency.Message{To: "polisen-syd", Kind: "disclosure",
		Metadata: map[string]any{"category": "health", "subject": map[string]any{"pseudonym": "elev-4712", "age": 13}}, Payload: []byte("y")})
	if err == nil {
		t.Fatal("the disclosure was allowed")
	}
	if _, err := svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	ctl := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(append(args, "--data", data), &out); err != nil {
			t.Fatalf("brokerctl %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	ctlURL := func(args ...string) string { t.Helper(); return ctl(append(args, "--nats-url", url)...) }

	if out := ctlURL("audit", "verify"); !strings.Contains(out, "2 records") {
		t.Fatalf("verify: %s", out)
	}
	export := filepath.Join(t.TempDir(), "audit.jsonl")
	ctlURL("audit", "export", "--out", export)
	if out := ctl("audit", "verify", "--file", export); !strings.Contains(out, "2 records") {
		t.Fatalf("verify export: %s", out)
	}

	// prove > proof.json; check-proof with the public key alone.
	proof := filepath.Join(t.TempDir(), "proof.json")
	if err := os.WriteFile(proof, []byte(ctl("audit", "prove", allowed.DecisionID, "--file", export)), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(layout.BrokerKeys(data), keys.AuditPublicKeyFile)
	var out bytes.Buffer
	if err := run([]string{"audit", "check-proof", proof, "--key", pub}, &out); err != nil || !strings.Contains(out.String(), allowed.DecisionID) {
		t.Fatalf("check-proof: %v %s", err, out.String())
	}

	// show: operators see reasons, auditors see who.
	denied := ctlURL("audit", "show", "--denied", "--json")
	if strings.Count(denied, "\n") != 1 || !strings.Contains(denied, "polisen-syd") || strings.Contains(denied, "elev-") {
		t.Fatalf("show --denied: %s", denied)
	}
	if who := ctlURL("audit", "show", "--json", "--agency", "soc-malmo", "--identity", auditorFile); !strings.Contains(who, `"pseudonym":"elev-4711"`) {
		t.Fatalf("show --identity: %s", who)
	}

	// A witness cosigns, and cosigns again after the log grew.
	wkey := filepath.Join(t.TempDir(), "witness.key")
	state := filepath.Join(t.TempDir(), "witness.json")
	var wpub bytes.Buffer
	if err := run([]string{"audit", "witness-key", "--name", "imy.se/witness", "--out", wkey}, &wpub); err != nil {
		t.Fatal(err)
	}
	wfile := filepath.Join(t.TempDir(), "witnesses.txt")
	if err := os.WriteFile(wfile, wpub.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := ctlURL("audit", "witness", "--witness-key", wkey, "--state", state); !strings.Contains(out, "— imy.se/witness ") {
		t.Fatalf("witness: %s", out)
	}
	if _, err := sch.Deliver(ctx, agency.Message{To: "soc-malmo", Kind: "concern_report",
		Metadata: map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-1", "birth_date": "2012-01-01"}, "purpose": "orosanmälan"},
		Payload:  []byte("z")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	ctlURL("audit", "witness", "--witness-key", wkey, "--state", state)
	if out := ctlURL("audit", "verify", "--witnesses", wfile); !strings.Contains(out, "witness imy.se/witness cosigned up to 3 records") {
		t.Fatalf("verify --witnesses: %s", out)
	}

	// The current period is never shredded: its key still seals records.
	// (broker/audit's shred tests destroy past periods.)
	tomorrow := time.Now().AddDate(0, 1, 1).Format("2006-01-02")
	if err := run([]string{"audit", "shred", "--before", tomorrow, "--data", data, "--nats-url", url}, &out); err == nil ||
		!strings.Contains(err.Error(), "current period") {
		t.Fatalf("shred of the current period: %v", err)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(ctlURL("audit", "show", "--allowed", "--json", "--identity", auditorFile), "\n", 2)[0]), &row); err != nil {
		t.Fatal(err)
	}
	if row["personal_fields"] == nil {
		t.Fatalf("after a refused shred: %v", row)
	}
	ctlURL("audit", "verify")
	if err := run([]string{"audit", "prove", allowed.DecisionID, "--data", data, "--nats-url", url}, &out); err != nil {
		t.Fatal(err)
	}
}
