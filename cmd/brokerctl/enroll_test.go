package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

func TestKeygenAddRotateRevoke(t *testing.T) {
	data := t.TempDir()
	if _, err := runCtl(t, "init", "--data", data); err != nil {
		t.Fatal(err)
	}
	away := filepath.Join(t.TempDir(), "soc") // the agency's machine
	out, err := runCtl(t, "agency", "keygen", "--id", "soc", "--kind", "social_services", "--name", "Socialtjänsten", "--out", away)
	if err != nil {
		t.Fatalf("keygen: %q %v", out, err)
	}
	kid := regexp.MustCompile(`k-[0-9a-f]{16}`).FindString(out)
	if kid == "" {
		t.Fatalf("keygen does not print the key id: %q", out)
	}
	if _, err := os.Stat(filepath.Join(away, "pseudonym.key")); err == nil {
		t.Fatal("keygen wrote a pseudonym key")
	}
	if out, err = runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(away, enroll.RequestFile)); err != nil {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, err := os.Stat(layout.AgencyKeys(data, "soc")); err == nil {
		t.Fatal("add created key files on the broker's side")
	}
	if out, err = runCtl(t, "agency", "list", "--data", data); err != nil || !strings.Contains(out, "soc") {
		t.Fatalf("list after add: %q %v", out, err)
	}

	next := filepath.Join(t.TempDir(), "soc-2")
	if out, err = runCtl(t, "agency", "rotate", "--id", "soc", "--keys", away, "--out", next); err != nil {
		t.Fatalf("rotate: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(next, enroll.RequestFile)); err != nil ||
		!strings.Contains(out, "agency revoke --id soc --key "+kid) {
		t.Fatalf("add rotation: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "revoke", "--data", data, "--id", "soc", "--key", kid, "--reason", "superseded"); err != nil {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "keys", "--data", data, "--id", "soc"); err != nil ||
		!strings.Contains(out, kid+"  revoked") || strings.Count(out, "valid") != 1 {
		t.Fatalf("agency keys: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "keys", "--data", data, "--id", "broker"); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("agency keys --id broker: %q %v", out, err)
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.Lookup("soc")
	if len(a.Keys) != 2 || a.Keys[0].ID != kid || a.Keys[0].RevokedAt == nil || a.Keys[0].RevokedReason != "superseded" || a.Keys[1].RevokedAt != nil {
		t.Fatalf("keys after rotate and revoke: %+v", a.Keys)
	}
	if _, err := runCtl(t, "agency", "revoke", "--data", data, "--id", "soc", "--key", kid); err == nil {
		t.Fatal("revoke without a reason succeeded")
	}
	if _, err := runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(away, enroll.RequestFile)); err == nil {
		t.Fatal("the same enrollment was added twice")
	}
}

// TestKeygenAddExchange enrols two agencies from keys made in two folders
// of their own, apart from the broker's, and has them exchange a message
// through a real broker with brokerctl send and recv, each reading its own
// copy of the published directory.
func TestKeygenAddExchange(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := runCtl(t, "init", "--data", data); err != nil {
		t.Fatal(err)
	}
	school, social := filepath.Join(t.TempDir(), "skolan"), filepath.Join(t.TempDir(), "soc")
	for _, k := range [][]string{
		{"--id", "skolan", "--kind", "school", "--operator", "municipal", "--name", "Skolan", "--out", school},
		{"--id", "soc", "--kind", "social_services", "--name", "Socialtjänsten", "--out", social},
	} {
		if out, err := runCtl(t, append([]string{"agency", "keygen"}, k...)...); err != nil {
			t.Fatalf("keygen: %q %v", out, err)
		}
	}
	for _, home := range []string{school, social} {
		if out, err := runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(home, enroll.RequestFile)); err != nil {
			t.Fatalf("add: %q %v", out, err)
		}
	}
	published, err := os.ReadFile(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, home := range []string{school, social} {
		if err := os.WriteFile(filepath.Join(home, "directory.yaml"), published, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := service.Start(context.Background(), service.Config{
		DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"), NATSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	meta := `{"category":"concern","subject":{"pseudonym":"p","birth_date":"2012-03-04"},"purpose":"orosanmälan","sender_role":"mentor"}`
	send := []string{"send", "--nats-url", svc.NATSURL(), "--from", "skolan", "--to", "soc",
		"--kind", "concern_report", "--meta", meta, "--text", "oro för eleven", "--wait", "30s"}
	if _, err := runCtl(t, append(send, "--data", data)...); err == nil || !strings.Contains(err.Error(), "--keys") {
		t.Fatalf("send with no home: %v, want advice to give --keys", err)
	}
	out, err := runCtl(t, append(send, "--keys", school, "--directory", filepath.Join(school, "directory.yaml"))...)
	if err != nil || !strings.Contains(out, "DELIVERED") {
		t.Fatalf("send: %q %v", out, err)
	}
	out, err = runCtl(t, "recv", "--nats-url", svc.NATSURL(), "--as", "soc", "--keys", social,
		"--directory", filepath.Join(social, "directory.yaml"), "--max", "1", "--wait", "30s")
	if err != nil || !strings.Contains(out, "from skolan (concern_report)") || !strings.Contains(out, "oro för eleven") {
		t.Fatalf("recv: %q %v", out, err)
	}

	// A refusal shows the reasons of the rule named with --basis first and
	// counts the rest; --all shows every one.
	health := []string{"send", "--nats-url", svc.NATSURL(), "--from", "skolan", "--to", "soc", "--kind", "disclosure",
		"--meta", `{"category":"health","subject":{"pseudonym":"p","age":13}}`, "--text", "journal", "--wait", "30s",
		"--keys", school, "--directory", filepath.Join(school, "directory.yaml"), "--basis", "R-CONSENT"}
	out, err = runCtl(t, health...)
	if err == nil || !strings.Contains(out, "REJECTED\n  - R-CONSENT: no consent record") ||
		!strings.Contains(out, "more reasons; --all shows them") || strings.Contains(out, "  - R-GENERAL") {
		t.Fatalf("send --basis R-CONSENT: %q %v", out, err)
	}
	out, err = runCtl(t, append(health, "--all")...)
	if err == nil || !strings.Contains(out, "REJECTED\n  - R-CONSENT: no consent record") ||
		!strings.Contains(out, "  - R-GENERAL") || !strings.Contains(out, "  - no rule allows this message") {
		t.Fatalf("send --basis R-CONSENT --all: %q %v", out, err)
	}
	if _, err := runCtl(t, append(health, "--basis", "consent")...); err == nil || !strings.Contains(err.Error(), "not a rule id") {
		t.Fatalf("send --basis consent: %v", err)
	}
}
