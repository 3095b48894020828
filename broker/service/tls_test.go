package service_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// TestTLSBroker runs the broker with an embedded server that requires mutual
// TLS: agencies without the CA, without a certificate or with one of another
// CA are refused; with the right files they exchange a message end to end.
// Then it records a consent with a unique official's name and finds that
// name in no file of the data directory: JetStream's files are encrypted.
func TestTLSBroker(t *testing.T) {
	dep := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(school, social), KeysInData: true, TLS: true})
	data := dep.Data
	other := t.TempDir()
	if _, err := tlsca.Init(other, nil); err != nil {
		t.Fatal(err)
	}
	tlsFile := func(f string) string { return service.TLSPath(data, f) }
	// Stopped by the test itself, to read the files at rest.
	svc, err := service.Start(context.Background(), dep.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		ctx, cancel := ctxT()
		defer cancel()
		svc.Shutdown(ctx)
	})
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	dial := func(id string, tc func(*agency.Config)) (*agency.Client, error) {
		ident, err := agency.LoadIdentity(layout.AgencyKeys(data, id), id)
		if err != nil {
			t.Fatal(err)
		}
		cfg := agency.Config{URL: svc.NATSURL(), Identity: ident, Directory: d,
			TLSCA:   tlsFile(tlsca.CAFile),
			TLSCert: filepath.Join(layout.AgencyKeys(data, id), tlsca.ClientCertFile),
			TLSKey:  filepath.Join(layout.AgencyKeys(data, id), tlsca.ClientKeyFile)}
		if tc != nil {
			tc(&cfg)
		}
		ctx, cancel := ctxT()
		defer cancel()
		c, err := agency.Dial(ctx, cfg)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	refused := []struct {
		name string
		tc   func(*agency.Config)
	}{
		{"without TLS settings", func(c *agency.Config) { c.TLSCA, c.TLSCert, c.TLSKey = "", "", "" }},
		{"without a client certificate", func(c *agency.Config) { c.TLSCert, c.TLSKey = "", "" }},
		{"with a certificate of another CA", func(c *agency.Config) {
			c.TLSCert, c.TLSKey = filepath.Join(other, tlsca.BrokerCertFile), filepath.Join(other, tlsca.BrokerKeyFile)
		}},
		{"trusting another CA", func(c *agency.Config) { c.TLSCA = filepath.Join(other, tlsca.CAFile) }},
	}
	for _, r := range refused {
		if _, err := dial(school, r.tc); !errors.Is(err, agency.ErrUnreachable) {
			t.Errorf("an agency %s: %v, want ErrUnreachable", r.name, err)
		}
	}

	sch, err := dial(school, nil)
	if err != nil {
		t.Fatal(err)
	}
	soc, err := dial(social, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := ctxT()
	defer cancel()
	id, err := sch.Send(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-tls"), Payload: []byte("oro")})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := soc.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if dl.ID != id || string(dl.Payload) != "oro" {
		t.Fatalf("delivery %s %q, want %s", dl.ID, dl.Payload, id)
	}
	dl.Ack()
	if r, err := sch.Receipt(ctx, id); err != nil || !r.Allowed() {
		t.Fatalf("receipt %+v, %v", r, err)
	}

	// A consent record is plain JSON in a KV bucket, so the official's name
	// would be on disk as it is but for the encryption.
	const marker = "Handläggare Zebulon Qvarnström-Tls"
	key, err := pseudonym.LoadKey(filepath.Join(layout.AgencyKeys(data, social), pseudonym.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pn, err := pseudonym.Parse("20120304-2385")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).UTC()
	ref, err := soc.RecordConsent(ctx, consent.Record{
		ID: "samtycke-tls", Subject: consent.Subject{Pseudonym: key.Of(pn), BirthDate: pn.BirthDate()},
		Categories: []string{"case_details"}, Recipients: []string{school}, Purpose: "samordnat stöd",
		GivenBy: []consent.Giver{{Role: consent.RoleGuardian, By: "vårdnadshavare 1", At: at},
			{Role: consent.RoleGuardian, By: "vårdnadshavare 2", At: at}, {Role: consent.RoleChild, At: at}},
		GuardianCount: 2, MaturityAssessment: &consent.Judgement{By: marker, At: at, Outcome: consent.MaturityChildConsentRequired},
		Documented: consent.Documentation{How: "written", By: marker, At: at},
		ValidFrom:  at,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := soc.Consent(ctx, ref); err != nil || got.Documented.By != marker {
		t.Fatalf("consent read back: %+v, %v", got, err)
	}
	sch.Close()
	soc.Close()
	sctx, scancel := ctxT()
	defer scancel()
	stopped = true
	if err := svc.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(layout.BrokerKeys(data), natsserver.KeyFile)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("JetStream key file: %v, %v", fi, err)
	}
	files := 0
	err = filepath.WalkDir(data, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasPrefix(path, filepath.Join(data, "jetstream")) {
			files++
		}
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("the official's name is in plaintext in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no JetStream files under the data directory")
	}
}
