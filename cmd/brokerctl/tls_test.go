package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

// TestInitTLS runs "init --tls", starts the broker with the flags it prints,
// and sends a message with --tls-ca alone: the agencies' certificates are
// found in their homes. After the exchange the broker's folder still holds
// no agency's private key.
func TestInitTLS(t *testing.T) {
	root := t.TempDir()
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	out, err := runCtl(t, "init", "--data", data, "--tls", "--tls-host", "broker.example,10.1.2.3")
	if err != nil {
		t.Fatalf("init --tls: %v\n%s", err, out)
	}
	tlsDir := filepath.Join(data, "broker", "tls")
	for _, want := range []string{"--tls-cert " + filepath.Join(tlsDir, "server.crt"), "--tls-client-ca " + filepath.Join(tlsDir, "ca.crt"),
		"broker.example, 10.1.2.3", "jetstream.key"} {
		if !strings.Contains(out, want) {
			t.Errorf("init --tls does not say %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"ca.key", "server.key", "broker.key", "route.key", "../jetstream.key"} {
		fi, err := os.Stat(filepath.Join(tlsDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v", f, err, fi)
		}
	}
	if out, err := runCtl(t, "init", "--data", data, "--tls"); err != nil || !strings.Contains(out, "keeping it") {
		t.Fatalf("second init --tls: %q %v", out, err)
	}
	if out, err := runCtl(t, "demo", "--data", data, "--agencies", agencies); err != nil ||
		!strings.Contains(out, "issued a TLS client certificate for soc-malmo in "+filepath.Join(agencies, "soc-malmo")) {
		t.Fatalf("demo after init --tls: %q %v", out, err)
	}
	at := func(f string) string { return filepath.Join(tlsDir, f) }
	svc, err := service.Start(context.Background(), service.Config{
		DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"), NATSListen: "127.0.0.1:0",
		TLSCert: at(tlsca.ServerCertFile), TLSKey: at(tlsca.ServerKeyFile), TLSClientCA: at(tlsca.CAFile),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	meta := `{"category":"concern","subject":{"pseudonym":"p","birth_date":"2012-03-04"},"purpose":"orosanmälan","sender_role":"mentor"}`
	send := []string{"send", "--data", data, "--keys", filepath.Join(agencies, "rosengard-skola"), "--nats-url", svc.NATSURL(),
		"--from", "rosengard-skola", "--to", "soc-malmo",
		"--kind", "concern_report", "--meta", meta, "--text", "oro", "--wait", "30s"}
	if _, err := runCtl(t, send...); err == nil {
		t.Fatal("send without --tls-ca reached a server that requires TLS")
	}
	out, err = runCtl(t, append(send, "--tls-ca", at(tlsca.CAFile))...)
	if err != nil || !strings.Contains(out, "DELIVERED") {
		t.Fatalf("send --tls-ca: %q %v", out, err)
	}
	out, err = runCtl(t, "recv", "--data", data, "--keys", filepath.Join(agencies, "soc-malmo"), "--nats-url", svc.NATSURL(),
		"--as", "soc-malmo", "--max", "1", "--wait", "30s",
		"--tls-ca", at(tlsca.CAFile))
	if err != nil || !strings.Contains(out, "oro") {
		t.Fatalf("recv --tls-ca: %q %v", out, err)
	}
	out, err = runCtl(t, "audit", "verify", "--data", data, "--nats-url", svc.NATSURL(), "--tls-ca", at(tlsca.CAFile))
	if err != nil {
		t.Fatalf("audit verify --tls-ca: %q %v", out, err)
	}
	stop()
	checkKeysApart(t, data, agencies)
}
