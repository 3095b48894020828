package natsserver

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

type userKey struct {
	kp  nkeys.KeyPair
	key directory.Key
}

func newUserKey(t *testing.T) userKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	nk, _ := kp.PublicKey()
	return userKey{kp, directory.Key{ID: directory.KeyID(pub), SigningKey: keys.FormatSigningPublicKey(pub),
		AgeRecipient: id.Recipient().String(), NKey: nk}}
}

func parse(t *testing.T, d *directory.Directory) *directory.Directory {
	t.Helper()
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

func connect(t *testing.T, url string, u userKey, closed chan<- struct{}) (*nats.Conn, error) {
	t.Helper()
	return nats.Connect(url,
		nats.Nkey(u.key.NKey, u.kp.Sign),
		nats.NoReconnect(),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
}

// TestRevokedKeyIsCutOff: both keys of a rotating agency may log in; once a
// directory revoking the old one is applied, its connection is closed and it
// cannot log in again, while the new key's connection stays up.
func TestRevokedKeyIsCutOff(t *testing.T) {
	brk, old, cur := newUserKey(t), newUserKey(t), newUserKey(t)
	d := &directory.Directory{
		Broker:   directory.Broker{Keys: []directory.Key{brk.key}},
		Agencies: []directory.Agency{{ID: "polis", Kind: directory.KindPolice, Name: "Polis", Keys: []directory.Key{old.key, cur.key}}},
	}
	s, err := Start(Config{DataDir: t.TempDir(), Host: "127.0.0.1", Port: -1, Directory: parse(t, d), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)

	oldClosed, curClosed := make(chan struct{}), make(chan struct{})
	oldConn, err := connect(t, s.ClientURL(), old, oldClosed)
	if err != nil {
		t.Fatalf("old key cannot log in during the overlap: %v", err)
	}
	defer oldConn.Close()
	curConn, err := connect(t, s.ClientURL(), cur, curClosed)
	if err != nil {
		t.Fatalf("new key cannot log in: %v", err)
	}
	defer curConn.Close()
	// Agencies may publish on their inbound subject only.
	if err := curConn.Publish(bus.In("polis"), []byte("x")); err != nil {
		t.Fatal(err)
	}

	now := time.Now().UTC()
	d.Agencies[0].Keys[0].RevokedAt, d.Agencies[0].Keys[0].RevokedReason = &now, "laptop stolen"
	if err := s.Update(parse(t, d)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-oldClosed:
	case <-time.After(30 * time.Second):
		t.Fatal("the revoked key's connection is still open after the reload")
	}
	if err := curConn.FlushTimeout(10 * time.Second); err != nil {
		t.Fatalf("the current key's connection broke: %v", err)
	}
	if curConn.IsClosed() {
		t.Fatal("the current key's connection was closed")
	}
	again := make(chan struct{})
	if c, err := connect(t, s.ClientURL(), old, again); err == nil {
		c.Close()
		t.Fatal("the revoked key logged in again")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("login with a revoked key: %v, want an authorization error", err)
	}
	if strings.Contains(string(AuthorizationConfig(parse(t, d))), old.key.NKey) {
		t.Fatal("the authorization config still lists the revoked nkey")
	}
}
