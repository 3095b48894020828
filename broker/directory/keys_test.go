package directory

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

// newKey returns a key valid from notBefore, with an nkey.
func newKey(t *testing.T, notBefore time.Time) Key {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	nk, _ := kp.PublicKey()
	return Key{ID: KeyID(pub), SigningKey: keys.FormatSigningPublicKey(pub), AgeRecipient: id.Recipient().String(),
		NKey: nk, NotBefore: notBefore}
}

func ptr(t time.Time) *time.Time { return &t }

func TestLegacyFormIsOneKey(t *testing.T) {
	d := newDirectory(t, Agency{ID: "soc", Kind: KindSocialServices, Name: "Soc"})
	legacy := d.Agencies[0]
	b := []byte("broker:\n  signing_key: " + d.Broker.SigningKey + "\n  age_recipient: " + d.Broker.AgeRecipient +
		"\nagencies:\n- id: soc\n  kind: social_services\n  name: Soc\n  signing_key: " + legacy.SigningKey +
		"\n  age_recipient: " + legacy.AgeRecipient + "\n")
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := got.Lookup("soc")
	if len(a.Keys) != 1 || !a.Keys[0].NotBefore.IsZero() || a.Keys[0].ID != KeyID(a.SigningPublicKey()) {
		t.Fatalf("legacy entry read as %+v", a.Keys)
	}
	if _, err := a.KeyAt(a.Keys[0].ID, time.Now()); err != nil {
		t.Fatalf("KeyAt of the legacy key: %v", err)
	}
	if len(got.Broker.Keys) != 1 {
		t.Fatalf("legacy broker read as %+v", got.Broker.Keys)
	}
	// Written again, it uses the list form only.
	out, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "\n  signing_key:") || !strings.Contains(string(out), "keys:") {
		t.Fatalf("Marshal wrote the single-key form:\n%s", out)
	}
	again, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := again.Lookup("soc"); a2.Keys[0].ID != a.Keys[0].ID {
		t.Fatal("key id changed on a round trip")
	}
}

func TestKeyAt(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old, cur, future, gone := newKey(t, t0), newKey(t, t0.Add(24*time.Hour)), newKey(t, t0.Add(72*time.Hour)), newKey(t, t0)
	old.NotAfter = ptr(t0.Add(48 * time.Hour))
	gone.RevokedAt, gone.RevokedReason = ptr(t0.Add(12*time.Hour)), "laptop stolen"
	d := newDirectory(t)
	d.Agencies = []Agency{{ID: "soc", Kind: KindSocialServices, Name: "Soc", Keys: []Key{old, cur, future, gone}}}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := got.Lookup("soc")
	at := t0.Add(36 * time.Hour)
	cases := []struct {
		kid  string
		at   time.Time
		want error
	}{
		{old.ID, at, nil},
		{cur.ID, at, nil},
		{old.ID, t0.Add(48 * time.Hour), ErrKeyExpired},
		{future.ID, at, ErrKeyNotYetValid},
		{gone.ID, t0.Add(time.Hour), nil},
		{gone.ID, t0.Add(12 * time.Hour), ErrKeyRevoked},
		{"k-0000000000000000", at, ErrUnknownKey},
	}
	for _, c := range cases {
		k, err := a.KeyAt(c.kid, c.at)
		if !errors.Is(err, c.want) || (c.want == nil && (k == nil || k.ID != c.kid || k.SigningPublicKey() == nil)) {
			t.Errorf("KeyAt(%s, %s) = %v, %v; want %v", c.kid, c.at, k, err, c.want)
		}
		var ke *KeyError
		if c.want != nil && (!errors.As(err, &ke) || ke.KID != c.kid || ke.Owner != "agency soc" && ke.Owner != "soc") {
			t.Errorf("KeyAt(%s) error %v is not a *KeyError naming the key", c.kid, err)
		}
	}
	if _, err := a.KeyAt(gone.ID, t0.Add(13*time.Hour)); err == nil || !strings.Contains(err.Error(), "laptop stolen") {
		t.Errorf("revocation error %v does not give the reason", err)
	}
	if n := len(a.CurrentRecipients(at)); n != 2 {
		t.Errorf("CurrentRecipients during the overlap: %d, want 2 (old and current)", n)
	}
	if n := len(a.CurrentRecipients(t0.Add(100 * time.Hour))); n != 2 {
		t.Errorf("CurrentRecipients after the overlap: %d, want 2 (current and future)", n)
	}
	nk := a.NKeysAt(at)
	if len(nk) != 3 || strings.Contains(strings.Join(nk, ","), gone.NKey) {
		t.Errorf("NKeysAt = %v, want all but the revoked key's", nk)
	}
	if a.SigningKey != future.SigningKey {
		t.Errorf("primary key is not the newest unrevoked one")
	}
}

func TestInvalidKeyLists(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]func(t *testing.T, a *Agency){
		"no keys":            func(t *testing.T, a *Agency) { a.Keys = nil },
		"duplicate key":      func(t *testing.T, a *Agency) { a.Keys = append(a.Keys, a.Keys[0]) },
		"wrong id":           func(t *testing.T, a *Agency) { a.Keys[0].ID = "k-0123456789abcdef" },
		"empty id":           func(t *testing.T, a *Agency) { a.Keys[0].ID = "" },
		"not_after too soon": func(t *testing.T, a *Agency) { a.Keys[0].NotAfter = ptr(a.Keys[0].NotBefore) },
		"reason w/o revoke":  func(t *testing.T, a *Agency) { a.Keys[0].RevokedReason = "x" },
		"revoke w/o reason":  func(t *testing.T, a *Agency) { a.Keys[0].RevokedAt = ptr(t0) },
		"nkey twice": func(t *testing.T, a *Agency) {
			k := newKey(t, t0)
			k.NKey = a.Keys[0].NKey
			a.Keys = append(a.Keys, k)
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := newDirectory(t)
			a := Agency{ID: "soc", Kind: KindSocialServices, Name: "Soc", Keys: []Key{newKey(t, t0)}}
			mutate(t, &a)
			d.Agencies = []Agency{a}
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(b); err == nil {
				t.Fatalf("Parse accepted:\n%s", b)
			}
		})
	}
	// A key, or its signing or NATS half, in two parties' lists.
	for name, share := range map[string]func(d *Directory, mine Key) Key{
		"key shared by two agencies":  func(d *Directory, mine Key) Key { return d.Agencies[1].Keys[0] },
		"nkey shared by two agencies": func(d *Directory, mine Key) Key { mine.NKey = d.Agencies[1].Keys[0].NKey; return mine },
		"signing key shared by two agencies": func(d *Directory, mine Key) Key {
			mine.ID, mine.SigningKey = d.Agencies[1].Keys[0].ID, d.Agencies[1].Keys[0].SigningKey
			return mine
		},
		"signing key shared with the broker": func(d *Directory, mine Key) Key {
			mine.ID, mine.SigningKey = KeyID(d.Broker.SigningPublicKey()), d.Broker.SigningKey
			return mine
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDirectory(t)
			polis := Agency{ID: "polis", Kind: KindPolice, Name: "Polis", Keys: []Key{newKey(t, t0)}}
			d.Agencies = []Agency{{ID: "soc", Kind: KindSocialServices, Name: "Soc", Keys: []Key{newKey(t, t0)}}, polis}
			b, err := d.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if d, err = Parse(b); err != nil { // the broker's parsed key, for the last case
				t.Fatal(err)
			}
			d.Agencies[0].Keys = []Key{share(d, newKey(t, t0))}
			d.Agencies[0].SigningKey, d.Agencies[0].AgeRecipient, d.Agencies[0].NATS.NKey = "", "", ""
			if b, err = d.Marshal(); err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(b); err == nil {
				t.Fatalf("Parse accepted:\n%s", b)
			}
		})
	}
	t.Run("single-key fields edit the primary key", func(t *testing.T) {
		d := newDirectory(t)
		k0, k1, other := newKey(t, t0), newKey(t, t0.Add(time.Hour)), newKey(t, t0)
		other.NKey = ""
		d.Agencies = []Agency{{ID: "soc", Kind: KindSocialServices, Name: "Soc", Keys: []Key{k0, k1}}}
		b, _ := d.Marshal()
		parsed, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		parsed.Agencies[0].SigningKey, parsed.Agencies[0].AgeRecipient, parsed.Agencies[0].NATS.NKey = other.SigningKey, other.AgeRecipient, ""
		b, err = parsed.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := again.Lookup("soc")
		if _, ok := a.Key(other.ID); !ok || len(a.Keys) != 2 {
			t.Fatalf("keys after editing the single-key fields: %+v", a.Keys)
		}
		if _, ok := a.Key(k1.ID); ok {
			t.Fatal("the primary key was kept beside its edit")
		}
		if _, ok := a.Key(k0.ID); !ok {
			t.Fatal("the older key was lost")
		}
	})
}
