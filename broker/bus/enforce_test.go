package bus_test

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
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
)

const timeout = 20 * time.Second

// serve starts the embedded server with a directory of the given agencies
// and returns its URL and everyone's nkey, the broker's under "".
func serve(t *testing.T, ids ...string) (string, map[string]nkeys.KeyPair) {
	t.Helper()
	kps := map[string]nkeys.KeyPair{}
	entry := func(id string) (signing, recipient, nkey string) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		kps[id] = kp
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ai, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		nk, err := kp.PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		return keys.FormatSigningPublicKey(pub), ai.Recipient().String(), nk
	}
	s, r, nk := entry("")
	d := &directory.Directory{Broker: directory.Broker{SigningKey: s, AgeRecipient: r, NATS: directory.NATS{NKey: nk}}}
	for _, id := range ids {
		s, r, nk := entry(id)
		d.Agencies = append(d.Agencies, directory.Agency{ID: id, Kind: directory.KindSocialServices, Name: id,
			SigningKey: s, AgeRecipient: r, NATS: directory.NATS{NKey: nk}})
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if d, err = directory.Parse(b); err != nil {
		t.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Port: -1, Directory: d, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL(), kps
}

// login connects as id (the broker for ""), with nats.go's error handler
// sending the server's asynchronous errors to the returned channel.
func login(t *testing.T, url string, kps map[string]nkeys.KeyPair, id string) (*nats.Conn, <-chan error) {
	t.Helper()
	kp := kps[id]
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	nc, err := nats.Connect(url, nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(bus.InboxPrefix(id)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("connect as %q: %v", id, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

func wantViolation(t *testing.T, errs <-chan error, subject string) {
	t.Helper()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
			t.Fatalf("want a permissions violation on %s, got %v", subject, err)
		}
	case <-time.After(timeout):
		t.Fatalf("no permissions violation reported for %s", subject)
	}
}

func receive(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(timeout)
	if err != nil {
		t.Fatalf("nothing on %s: %v", sub.Subject, err)
	}
	return m
}

// TestPermissionsEnforced: on a real server, an agency that publishes as
// another or subscribes to another's subjects is refused, while its own
// subjects work. The broker's connection sees every subject, so what it
// receives is exactly what got through.
func TestPermissionsEnforced(t *testing.T) {
	const school, social = "rosengard-skola", "soc-malmo"
	url, kps := serve(t, school, social)
	bc, _ := login(t, url, kps, "")
	sc, serrs := login(t, url, kps, school)

	in, err := bc.SubscribeSync(bus.InPrefix + ">")
	if err != nil {
		t.Fatal(err)
	}
	all, err := bc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := bc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Publishing as social services is refused; its own inbound subject
	// works. One connection's messages arrive in order, so the first
	// message the broker sees being the school's own shows the forbidden
	// one was dropped.
	for _, forbidden := range []string{
		bus.In(social), bus.Out(social), bus.Receipt(school), bus.AuditRecord,
		// Reading another agency's inbox or receipts through the JetStream
		// API, acknowledging its messages, or writing its consents.
		"$JS.API.CONSUMER.MSG.NEXT." + bus.StreamOut + "." + bus.InboxConsumer(social),
		"$JS.API.CONSUMER.INFO." + bus.StreamReceipts + "." + bus.ReceiptConsumer(social),
		"$JS.ACK." + bus.StreamOut + "." + bus.InboxConsumer(social) + ".1.1.1.1.1.1",
		"$KV." + bus.ConsentBucket + "." + social + ".samtycke-1",
		"$JS.API.STREAM.LIST",
	} {
		if err := sc.Publish(forbidden, []byte("forged")); err != nil {
			t.Fatal(err)
		}
		wantViolation(t, serrs, forbidden)
	}
	if err := sc.Publish(bus.In(school), []byte("own")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, in); m.Subject != bus.In(school) || string(m.Data) != "own" {
		t.Fatalf("broker received %s %q", m.Subject, m.Data)
	}
	for {
		m := receive(t, all)
		if string(m.Data) == "forged" {
			t.Fatalf("a forbidden publish to %s reached the server", m.Subject)
		}
		if string(m.Data) == "own" {
			break
		}
	}

	// Subscribing to another agency's deliveries, receipts or replies is
	// refused; its own reply inbox works.
	for _, forbidden := range []string{bus.Out(social), bus.Receipt(social), bus.InboxPrefix(social) + ".>", bus.In(social)} {
		if _, err := sc.SubscribeSync(forbidden); err != nil {
			t.Fatal(err)
		}
		wantViolation(t, serrs, forbidden)
	}
	own, err := sc.SubscribeSync(bus.InboxPrefix(school) + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := bc.Publish(bus.InboxPrefix(school)+".reply", []byte("answer")); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, own); string(m.Data) != "answer" {
		t.Fatalf("own inbox received %q", m.Data)
	}
	select {
	case err := <-serrs:
		t.Fatalf("allowed operations reported %v", err)
	default:
	}
}
