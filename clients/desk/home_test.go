package desk_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
)

// TestHomesApart: officials whose agencies keep their keys in homes apart
// from the broker's data directory, as brokerctl demo makes them, work with
// --keys and --directory, and their inbox is in their home.
func TestHomesApart(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(school, social)})
	data, agencies := d.Data, d.Agencies
	svc := d.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(prog, id string, args ...string) (string, error) {
		var out bytes.Buffer
		err := programs[prog].run(ctx, append(args, "--as", id, "--name", "Anna Ek", "--nats-url", svc.NATSURL()), &out)
		return out.String(), err
	}
	concern := []string{"concern", "--to", social, "--personnummer", "20120304-2385", "--text", "Oro."}
	if _, err := as("rektor", school, append(concern, "--data", data)...); err == nil || !strings.Contains(err.Error(), "--keys") ||
		!strings.Contains(err.Error(), filepath.Join(agencies, school)) {
		t.Fatalf("no home given: %v, want advice to give --keys", err)
	}
	home := func(id string) []string {
		return []string{"--keys", layout.AgencyHome(agencies, id), "--directory", layout.Directory(data)}
	}
	if out, err := as("rektor", school, append(concern, home(school)...)...); err != nil {
		t.Fatalf("concern: %v\n%s", err, out)
	}
	if out, err := as("socialtjanst", social, append([]string{"inbox"}, home(social)...)...); err != nil || !strings.Contains(out, "Oro.") {
		t.Fatalf("inbox: %v\n%s", err, out)
	}
	box, err := inbox.Open(layout.HomeInbox(layout.AgencyHome(agencies, social)))
	if err != nil {
		t.Fatal(err)
	}
	if open, err := box.Open(); err != nil || len(open) != 1 {
		t.Fatalf("the inbox in the home: %v %v", open, err)
	}
	if _, err := os.Stat(filepath.Join(data, layout.AgenciesDir)); !os.IsNotExist(err) {
		t.Fatalf("the clients wrote into the broker's folder: %v", err)
	}
}
