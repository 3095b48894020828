package broker

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

type testKey struct {
	priv ed25519.PrivateKey
	key  directory.Key
}

func genKey(t *testing.T, notBefore time.Time) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	return testKey{priv, directory.Key{ID: directory.KeyID(pub), SigningKey: keys.FormatSigningPublicKey(pub),
		AgeRecipient: id.Recipient().String(), NotBefore: notBefore}}
}

func TestVerifySender(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	old, cur, stranger, brk := genKey(t, t0), genKey(t, t0.Add(time.Hour)), genKey(t, t0), genKey(t, time.Time{})
	revokedAt := t0.Add(2 * time.Hour)
	old.key.RevokedAt, old.key.RevokedReason = &revokedAt, "rotated after a suspected leak"
	d := &directory.Directory{
		Broker: directory.Broker{Keys: []directory.Key{brk.key}},
		Agencies: []directory.Agency{
			{ID: "polis", Kind: directory.KindPolice, Name: "Polis", Keys: []directory.Key{old.key, cur.key}},
			{ID: "soc", Kind: directory.KindSocialServices, Name: "Soc", Keys: []directory.Key{stranger.key}},
		},
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if d, err = directory.Parse(b); err != nil {
		t.Fatal(err)
	}
	sender, _ := d.Lookup("polis")
	soc, _ := d.Lookup("soc")
	seal := func(k testKey, version int) *envelope.Envelope {
		h := envelope.Header{Version: version, ID: envelope.NewID(), From: "polis", To: "soc", Kind: "request", CreatedAt: t0}
		if version == 2 {
			h.Kid = k.key.ID
		}
		raw, err := envelope.SealTo(h, []byte("{}"), d.Broker.CurrentRecipients(t0), []byte("x"), soc.CurrentRecipients(t0), k.priv)
		if err != nil {
			t.Fatal(err)
		}
		e, err := envelope.Parse(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	forged := seal(stranger, 2)
	forged.Header.Kid = cur.key.ID // claims a key of polis it was not signed with
	cases := []struct {
		name string
		env  *envelope.Envelope
		at   time.Time
		want string
	}{
		{"v2 current key", seal(cur, 2), t0.Add(90 * time.Minute), ""},
		{"v2 old key before revocation", seal(old, 2), t0.Add(90 * time.Minute), ""},
		{"v2 old key at revocation", seal(old, 2), revokedAt, errcode.RevokedKey},
		{"v2 old key after revocation", seal(old, 2), revokedAt.Add(time.Second), errcode.RevokedKey},
		{"v1 old key after revocation", seal(old, 1), revokedAt.Add(time.Second), errcode.RevokedKey},
		{"v1 current key", seal(cur, 1), revokedAt.Add(time.Second), ""},
		{"v2 key not yet valid", seal(cur, 2), t0, "bad_signature"},
		{"v2 another agency's key", seal(stranger, 2), t0.Add(90 * time.Minute), "bad_signature"},
		{"v1 another agency's key", seal(stranger, 1), t0.Add(90 * time.Minute), "bad_signature"},
		{"v2 kid of a key that did not sign", forged, t0.Add(90 * time.Minute), "bad_signature"},
	}
	for _, c := range cases {
		rej := verifySender(c.env, sender, c.at)
		got := ""
		if rej != nil {
			got = rej.code
		}
		if got != c.want {
			t.Errorf("%s: code %q (%v), want %q", c.name, got, rej, c.want)
		}
	}
}
