package agency_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestDeliveryFromRemovedSenderSetAside: once the sender of a delivery has
// left the recipient's copy of the directory, the delivery is still read,
// set aside with the reason, and every delivery after it is read too.
// (Before, it failed with ErrBadKey, blocked recv and inbox, and came back
// every 10 s for ever.)
func TestDeliveryFromRemovedSenderSetAside(t *testing.T) {
	w := newWorld(t)
	sch, pol := w.dial(school), w.dial(police)
	pn, bd := w.child(school)
	subject := &agency.Subject{Pseudonym: pn, BirthDate: bd}
	if _, err := sch.ReportConcern(ctxT(t), social, agency.Claims{Subject: subject, Purpose: "orosanmälan", SenderRole: "mentor"},
		[]byte("Eleven berättar om bråk hemma.")); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.ReportConcern(ctxT(t), social, agency.Claims{Subject: subject, Purpose: "orosanmälan"},
		[]byte("Polisen har mött eleven en sen kväll.")); err != nil {
		t.Fatal(err)
	}

	// Social services' copy of the directory no longer holds the school.
	dir := w.dep.Directory(t)
	var kept []directory.Agency
	for _, a := range dir.Agencies {
		if a.ID != school {
			kept = append(kept, a)
		}
	}
	dir.Agencies = kept
	b, err := dir.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	without, err := directory.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.dep.AgencyConfig(t, social)
	cfg.Directory = without
	soc, err := agency.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { soc.Close() })

	var got []*agency.Delivery
	for len(got) < 2 {
		d, err := soc.Next(ctxT(t))
		if errors.Is(err, agency.ErrBadKey) {
			t.Fatalf("a delivery from an agency that left the directory blocks the inbox: %v", err)
		}
		if err != nil {
			t.Fatalf("after %d deliveries: %v", len(got), err)
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	i := slices.IndexFunc(got, func(d *agency.Delivery) bool { return d.From == school })
	if i < 0 {
		t.Fatalf("the school's delivery was not read: %+v", got)
	}
	fromSchool, fromPolice := got[i], got[1-i]
	if !strings.HasPrefix(fromSchool.SetAside, agency.SetAsideSenderLeft) {
		t.Fatalf("school's delivery SetAside = %q, want it to begin %q", fromSchool.SetAside, agency.SetAsideSenderLeft)
	}
	if string(fromSchool.Payload) != "Eleven berättar om bråk hemma." || fromSchool.Decision.Rule != "R-CONCERN" {
		t.Fatalf("school's delivery %q under %s", fromSchool.Payload, fromSchool.Decision.Rule)
	}
	if fromPolice.From != police || fromPolice.SetAside != "" {
		t.Fatalf("police delivery from %s set aside %q", fromPolice.From, fromPolice.SetAside)
	}

}
