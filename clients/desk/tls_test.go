package desk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestTLS: against a broker requiring mutual TLS, the officials' clients
// connect with --tls-ca and the certificate beside the agency's keys, and
// not without the CA.
func TestTLS(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	for _, s := range []provision.AgencySpec{
		{ID: school, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Skolan"},
		{ID: social, Kind: directory.KindSocialServices, Name: "Socialtjänsten"},
	} {
		if _, err := provision.NewAgency(data, s); err != nil {
			t.Fatal(err)
		}
	}
	ca, err := tlsca.Init(layout.TLS(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{school, social} {
		p, err := ca.IssueClient(id)
		if err != nil {
			t.Fatal(err)
		}
		dir := layout.AgencyKeys(data, id)
		if err := p.Write(filepath.Join(dir, tlsca.ClientCertFile), filepath.Join(dir, tlsca.ClientKeyFile)); err != nil {
			t.Fatal(err)
		}
	}
	at := func(f string) string { return service.TLSPath(data, f) }
	svc, err := service.Start(context.Background(), service.Config{DataDir: data, PolicyDir: "../../policies", NATSListen: "127.0.0.1:0",
		TLSCert: at(tlsca.ServerCertFile), TLSKey: at(tlsca.ServerKeyFile), TLSClientCA: at(tlsca.CAFile),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		svc.Shutdown(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(prog, id string, args ...string) (string, error) {
		var out bytes.Buffer
		err := programs[prog].run(ctx, append(args, "--as", id, "--name", "Anna Ek", "--data", data, "--nats-url", svc.NATSURL()), &out)
		return out.String(), err
	}
	if _, err := as("socialtjanst", social, "inbox"); !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("without --tls-ca: %v, want ErrUnreachable", err)
	}
	if got, err := as("rektor", school, "concern", "--to", social, "--personnummer", "20120304-2385", "--text", "Oro över TLS.",
		"--tls-ca", at(tlsca.CAFile)); err != nil {
		t.Fatalf("concern with --tls-ca: %v\n%s", err, got)
	}
	if got, err := as("socialtjanst", social, "inbox", "--tls-ca", at(tlsca.CAFile)); err != nil || !strings.Contains(got, "Oro över TLS.") {
		t.Fatalf("inbox with --tls-ca: %v\n%s", err, got)
	}
}
