package brokertest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
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
