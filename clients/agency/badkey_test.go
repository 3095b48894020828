package agency_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestBadKeys: an agency whose key files do not match the directory is told
// so (ErrBadKey), not that the broker is unreachable; and a delivery it
// cannot open stays in its inbox instead of being thrown away.
func TestBadKeys(t *testing.T) {
	w := newWorld(t)
	dir, err := directory.Load(filepath.Join(w.data, service.DirectoryFile))
	if err != nil {
		t.Fatal(err)
	}
	// withKey copies the police's key files and replaces one of them.
	withKey := func(file string, write func(path string) error) *agency.Identity {
		t.Helper()
		tmp := t.TempDir()
		for _, f := range []string{keys.SigningKeyFile, keys.AgeKeyFile, keys.NKeyFile} {
			b, err := os.ReadFile(filepath.Join(service.AgencyDir(w.data, police), f))
			if err != nil {
				t.Fatal(err)
			}
			if f != file {
				if err := os.WriteFile(filepath.Join(tmp, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := write(filepath.Join(tmp, file)); err != nil {
			t.Fatal(err)
		}
		id, err := agency.LoadIdentity(tmp, police)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for name, id := range map[string]*agency.Identity{
		"signing": withKey(keys.SigningKeyFile, func(p string) error {
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			return keys.WriteSigningKey(p, priv)
		}),
		"age":  withKey(keys.AgeKeyFile, func(p string) error { _, err := keys.WriteAgeIdentity(p, true); return err }),
		"NATS": withKey(keys.NKeyFile, func(p string) error { _, err := keys.WriteNKeySeed(p); return err }),
	} {
		c, err := agency.Dial(ctxT(t), agency.Config{URL: w.url, Identity: id, Directory: dir})
		if err == nil {
			c.Close()
		}
		if !errors.Is(err, agency.ErrBadKey) || errors.Is(err, agency.ErrUnreachable) {
			t.Errorf("dial with another %s key: %v, want ErrBadKey", name, err)
		}
	}

	// The school's copy of the directory has an old age key for social
	// services: the broker delivers (it cannot read the payload), and social
	// services cannot open it.
	stale, err := directory.Load(filepath.Join(w.data, service.DirectoryFile))
	if err != nil {
		t.Fatal(err)
	}
	old, err := keys.WriteAgeIdentity(filepath.Join(t.TempDir(), "old.key"), true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stale.Agencies {
		if stale.Agencies[i].ID == social {
			stale.Agencies[i].AgeRecipient = old
		}
	}
	b, err := stale.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if stale, err = directory.Parse(b); err != nil {
		t.Fatal(err)
	}
	sid, err := agency.LoadIdentity(service.AgencyDir(w.data, school), school)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := agency.Dial(ctxT(t), agency.Config{URL: w.url, Identity: sid, Directory: stale})
	if err != nil {
		t.Fatal(err)
	}
	defer sch.Close()
	pn, bd := w.child(school)
	r, err := sch.Deliver(ctxT(t), agency.Message{To: social, Kind: agency.KindConcernReport,
		Metadata: agency.Claims{Category: "concern", Purpose: "orosanmälan", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}},
		Payload:  []byte("Eleven har berättat om våld i hemmet.")})
	if err != nil {
		t.Fatal(err)
	}
	soc := w.dial(social)
	if d, err := soc.Next(ctxT(t)); !errors.Is(err, agency.ErrBadKey) {
		t.Fatalf("a delivery sealed to another key: %v, %v; want ErrBadKey", d, err)
	}
	// Still in the inbox, offered again.
	nc, js, err := service.ConnectAsBroker(w.data, w.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cons, err := js.Consumer(ctxT(t), bus.StreamOut, bus.InboxConsumer(social))
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending+int(info.NumPending) != 1 {
		t.Fatalf("inbox after a delivery that did not open: %d pending, %d unacknowledged", info.NumPending, info.NumAckPending)
	}
	// The police's copy of the directory has another broker key: the receipt
	// does not verify, and it stays for a client with the right directory.
	_, otherBroker, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := directory.Load(filepath.Join(w.data, service.DirectoryFile))
	if err != nil {
		t.Fatal(err)
	}
	wrong.Broker.SigningKey = keys.FormatSigningPublicKey(otherBroker.Public().(ed25519.PublicKey))
	if b, err = wrong.Marshal(); err != nil {
		t.Fatal(err)
	}
	if wrong, err = directory.Parse(b); err != nil {
		t.Fatal(err)
	}
	pid, err := agency.LoadIdentity(service.AgencyDir(w.data, police), police)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := agency.Dial(ctxT(t), agency.Config{URL: w.url, Identity: pid, Directory: wrong})
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	id, err := pol.Send(ctxT(t), agency.Message{To: school, Kind: agency.KindRequest,
		Metadata: agency.Claims{Category: "enrolment", Purpose: "utreda brott", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Receipt(ctxT(t), id); !errors.Is(err, agency.ErrBadKey) {
		t.Fatalf("a receipt under another broker key: %v, want ErrBadKey", err)
	}
	// Both kept messages are offered again after the same delay.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := soc.Next(ctx); !errors.Is(err, agency.ErrBadKey) || !strings.Contains(err.Error(), r.MessageID) {
		t.Fatalf("the kept delivery %s offered again: %v", r.MessageID, err)
	}

	if r, err := w.dial(police).Receipt(ctx, id); err != nil || r.MessageID != id {
		t.Fatalf("the kept receipt: %+v, %v", r, err)
	}
}
