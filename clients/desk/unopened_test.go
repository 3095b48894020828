package desk_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/desk"
)

// TestUnopenedDeliveryKept: a delivery sealed to a key social services does
// not hold is reported and left at the broker, and the inbox still takes in
// everything else.
func TestUnopenedDeliveryKept(t *testing.T) {
	data, url := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The school's copy of the directory has an old age key for social services.
	stale, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	old, err := keys.WriteAgeIdentity(filepath.Join(t.TempDir(), "old.key"), false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stale.Agencies {
		if stale.Agencies[i].ID == social {
			stale.Agencies[i].AgeRecipient = old
		}
	}
	b, _ := stale.Marshal()
	if stale, err = directory.Parse(b); err != nil {
		t.Fatal(err)
	}
	id, err := agency.LoadIdentity(layout.AgencyKeys(data, school), school)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := agency.Dial(ctx, agency.Config{URL: url, Identity: id, Directory: stale})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	concern := agency.Claims{Category: "concern", Purpose: "orosanmälan", Subject: &agency.Subject{Pseudonym: "elev-1", BirthDate: "2012-03-04"}}
	if _, err := sch.Deliver(ctx, agency.Message{To: social, Kind: agency.KindConcernReport, Metadata: concern, Payload: []byte("Sänd med fel nyckel.")}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := desk.Rector(ctx, []string{"concern", "--as", school, "--name", "Anna Ek", "--data", data, "--nats-url", url,
		"--to", social, "--personnummer", "20120304-2385", "--text", "Eleven har berättat om våld i hemmet."}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}

	// Waiting longer than the broker takes to offer the unopened one again:
	// the inbox stops when it comes round, instead of waiting for ever.
	out.Reset()
	err = desk.SocialServices(ctx, []string{"inbox", "--as", social, "--name", "Anna Ek", "--data", data, "--nats-url", url, "--wait", "15s"}, &out)
	got := out.String()
	if !errors.Is(err, agency.ErrBadKey) || !strings.Contains(got, "not opened, kept at the broker") || strings.Count(got, "not opened") != 1 {
		t.Fatalf("inbox with a delivery sealed to another key: %v\n%s", err, got)
	}
	if !strings.Contains(got, "1 new") || !strings.Contains(got, "våld i hemmet") {
		t.Fatalf("the other delivery was not taken in:\n%s", got)
	}
}
