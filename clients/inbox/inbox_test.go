package inbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
)

func TestBox(t *testing.T) {
	b, err := inbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fu := &agency.Delivery{ID: "0123456789abcdef0123456789abcdef", From: "polisen-syd", Kind: agency.KindResponse,
		CreatedAt: time.Now(), Payload: []byte("uppgifter ur förundersökningen"),
		Decision: &decision.Record{Outcome: decision.Delivered, Rule: "R-FU", Obligations: []string{agency.ObligationDoNotForward}}}
	req := &agency.Delivery{ID: "fedcba9876543210fedcba9876543210", From: "polisen-syd", Kind: agency.KindRequest,
		CreatedAt: fu.CreatedAt.Add(-time.Minute), Decision: &decision.Record{Outcome: decision.Delivered, Rule: "R-LUB-REQUEST"}}
	for _, d := range []*agency.Delivery{fu, req} {
		if err := b.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	open, err := b.Open()
	if err != nil || len(open) != 2 || open[0].ID != req.ID {
		t.Fatalf("Open = %v, %v; want the request first", open, err)
	}
	if err := b.MarkHandled(fu.ID); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(fu.ID)
	if err != nil || got.MayForward() || string(got.Payload) != string(fu.Payload) {
		t.Fatalf("a handled message lost its obligations or content: %+v %v", got, err)
	}
	if open, _ := b.Open(); len(open) != 1 {
		t.Fatalf("open after handling one: %v", open)
	}
	if handled, _ := b.Handled(); len(handled) != 1 || handled[0].ID != fu.ID {
		t.Fatalf("handled: %v", handled)
	}
	if _, err := b.Get("../../etc/passwd"); !errors.Is(err, inbox.ErrNotFound) {
		t.Fatalf("Get of a path: %v", err)
	}
	if err := b.Save(&agency.Delivery{ID: "../x"}); err == nil {
		t.Fatal("saved a message whose id is a path")
	}
}

// TestRedeliveryOfHandledMessage: a message delivered again after it was
// handled (its acknowledgement was lost) does not come back as open.
func TestRedeliveryOfHandledMessage(t *testing.T) {
	b, err := inbox.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &agency.Delivery{ID: "0123456789abcdef0123456789abcdef", From: "polisen-syd", Kind: agency.KindRequest,
		CreatedAt: time.Now(), Decision: &decision.Record{Outcome: decision.Delivered, Rule: "R-LUB-REQUEST"}}
	if err := b.Save(d); err != nil {
		t.Fatal(err)
	}
	if err := b.MarkHandled(d.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(d); err != nil {
		t.Fatal(err)
	}
	if open, err := b.Open(); err != nil || len(open) != 0 {
		t.Fatalf("open after a redelivery of a handled message: %v, %v", open, err)
	}
	if handled, err := b.Handled(); err != nil || len(handled) != 1 {
		t.Fatalf("handled: %v, %v", handled, err)
	}
}

// TestDamagedFileDoesNotHideTheRest: an unreadable file is named, and every
// other message is still listed.
func TestDamagedFileDoesNotHideTheRest(t *testing.T) {
	dir := t.TempDir()
	b, err := inbox.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := &agency.Delivery{ID: "0123456789abcdef0123456789abcdef", From: "polisen-syd", Kind: agency.KindRequest,
		CreatedAt: time.Now(), Decision: &decision.Record{Outcome: decision.Delivered, Rule: "R-LUB-REQUEST"}}
	if err := b.Save(d); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "ffffffffffffffffffffffffffffffff.json")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	open, err := b.Open()
	if !errors.Is(err, inbox.ErrDamaged) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Open with a damaged file: %v", err)
	}
	if len(open) != 1 || open[0].ID != d.ID {
		t.Fatalf("the readable message was not listed: %v", open)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 { // the two files and handled/
		t.Fatalf("temporary files left behind: %v", ents)
	}
}
