package service

import (
	"crypto/ed25519"
	"fmt"
	"sort"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

func testKey(t *testing.T) directory.Key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	return directory.Key{ID: directory.KeyID(pub), SigningKey: keys.FormatSigningPublicKey(pub), AgeRecipient: id.Recipient().String()}
}

func TestKeyEvents(t *testing.T) {
	brk, a1, a2, b1 := testKey(t), testKey(t), testKey(t), testKey(t)
	prev := &directory.Directory{Broker: directory.Broker{Keys: []directory.Key{brk}}, Agencies: []directory.Agency{
		{ID: "polis", Kind: directory.KindPolice, Name: "Polis", Keys: []directory.Key{a1}},
		{ID: "soc", Kind: directory.KindSocialServices, Name: "Soc", Keys: []directory.Key{b1}},
	}}
	revoked := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	a1r := a1
	a1r.RevokedAt, a1r.RevokedReason = &revoked, "leaked"
	next := &directory.Directory{Broker: directory.Broker{Keys: []directory.Key{brk}}, Agencies: []directory.Agency{
		{ID: "polis", Kind: directory.KindPolice, Name: "Polis", Keys: []directory.Key{a1r, a2}},
	}}
	parse := func(d *directory.Directory) *directory.Directory {
		b, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p, err := directory.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now().UTC()
	recs := keyEvents(parse(prev), parse(next), now)
	var got []string
	for _, r := range recs {
		if r.Outcome != decision.KeyEvent || len(r.DecisionID) != 32 || !r.DecidedAt.Equal(now) || len(r.Reasons) != 1 {
			t.Errorf("record %+v", r)
		}
		got = append(got, r.Sender+" "+r.Kind+" "+r.KeyID)
	}
	sort.Strings(got)
	want := []string{"polis key_added " + a2.ID, "polis key_revoked " + a1.ID, "soc key_removed " + b1.ID}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	// The same change seen by another broker gets the same decision id.
	again := keyEvents(parse(prev), parse(next), now.Add(time.Minute))
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r.DecisionID] = true
	}
	for _, r := range again {
		if !ids[r.DecisionID] {
			t.Fatalf("event %s %s has another id when seen again", r.Kind, r.KeyID)
		}
	}
	if n := len(keyEvents(parse(next), parse(next), now)); n != 0 {
		t.Fatalf("%d events for an unchanged directory", n)
	}
}
