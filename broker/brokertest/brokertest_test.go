package brokertest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestRunJetStream: the server accepts a connection with JetStream enabled.
func TestRunJetStream(t *testing.T) {
	ns, url := brokertest.RunJetStream(t, brokertest.ServerName("probe"))
	if !ns.JetStreamEnabled() {
		t.Fatal("JetStream is off")
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if got := nc.ConnectedServerName(); got != "probe" {
		t.Fatalf("connected to %q, want the server named probe", got)
	}
}

// TestDeployment: homes lie apart from the data folder, with TLS files in
// them, and every agency dials the broker over mutual TLS.
func TestDeployment(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{TLS: true, Auditor: true})
	if d.Auditor == nil {
		t.Fatal("no auditor identity")
	}
	if _, err := os.Stat(filepath.Join(d.Data, layout.AgenciesDir)); !os.IsNotExist(err) {
		t.Fatalf("agency keys in the broker's folder: %v", err)
	}
	d.Start(t, nil)
	for _, s := range brokertest.DemoAgencies() {
		if _, err := os.Stat(filepath.Join(d.Home(s.ID), tlsca.ClientCertFile)); err != nil {
			t.Fatal(err)
		}
		d.Dial(t, s.ID)
	}
}

// TestInputsChecked: the inputs the broker builds are checked against the
// input schema, a refused one as well as a delivered one.
func TestInputsChecked(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{})
	d.Start(t, nil)
	cl := d.Dial(t, "rosengard-skola")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	age := 13
	subject := &agency.Subject{Pseudonym: "elev-4711", Age: &age}
	if _, err := cl.Deliver(ctx, agency.Message{To: "soc-malmo", Kind: agency.KindConcernReport,
		Metadata: agency.Claims{Category: "concern", Subject: subject}, Payload: []byte("oro")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Deliver(ctx, agency.Message{To: "polisen-syd", Kind: agency.KindDisclosure,
		Metadata: agency.Claims{Category: "health", Subject: subject, LegalBasisClaimed: "R-CONSENT"}, Payload: []byte("journal")}); !errors.Is(err, agency.ErrDenied) {
		t.Fatalf("a health disclosure to the police: %v, want a denial", err)
	}
	if n := d.InputsChecked(); n != 2 {
		t.Fatalf("%d inputs checked, want 2", n)
	}
}
