package natsserver_test

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

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
)

const timeout = 20 * time.Second

// party is a directory entry's NATS user, with the key to log in as it.
type party struct {
	id string
	kp nkeys.KeyPair
}

func newParty(t testing.TB, id string) party {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	return party{id: id, kp: kp}
}

func (p party) nkey(t testing.TB) string {
	t.Helper()
	pub, err := p.kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// publicKeys returns a fresh signing key and age recipient in the
// directory's format; the server only reads the nkeys.
func publicKeys(t testing.TB) (string, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keys.FormatSigningPublicKey(pub), id.Recipient().String()
}

// newDirectory returns a validated directory of the broker and agencies,
// all police, as directory.Load would.
func newDirectory(t testing.TB, broker party, agencies ...party) *directory.Directory {
	t.Helper()
	s, r := publicKeys(t)
	d := &directory.Directory{Broker: directory.Broker{SigningKey: s, AgeRecipient: r, NATS: directory.NATS{NKey: broker.nkey(t)}}}
	for _, a := range agencies {
		s, r := publicKeys(t)
		d.Agencies = append(d.Agencies, directory.Agency{ID: a.id, Kind: directory.KindPolice, Name: a.id,
			SigningKey: s, AgeRecipient: r, NATS: directory.NATS{NKey: a.nkey(t)}})
	}
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := directory.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

func start(t *testing.T, d *directory.Directory) (*natsserver.Server, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := natsserver.Start(natsserver.Config{DataDir: dir, Host: "127.0.0.1", Port: -1, Directory: d, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s, dir
}

// connect logs in as p; errs receives what the server reports asynchronously.
func connect(t *testing.T, url string, p party, errs chan<- error) (*nats.Conn, error) {
	t.Helper()
	pub := p.nkey(t)
	opts := []nats.Option{nats.Nkey(pub, p.kp.Sign), nats.MaxReconnects(0), nats.CustomInboxPrefix(bus.InboxPrefix(p.id))}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	}
	nc, err := nats.Connect(url, opts...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

func TestStartConnectAndJetStream(t *testing.T) {
	brokerP, police := newParty(t, "broker"), newParty(t, "polisen-syd")
	d := newDirectory(t, brokerP, police)
	s, dir := start(t, d)
	if !strings.HasPrefix(s.ClientURL(), "nats://127.0.0.1:") || strings.HasSuffix(s.ClientURL(), ":-1") {
		t.Fatalf("ClientURL = %s, want loopback with the port picked", s.ClientURL())
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()

	bc, err := connect(t, s.ClientURL(), brokerP, nil)
	if err != nil {
		t.Fatalf("broker connect: %v", err)
	}
	js, err := jetstream.New(bc)
	if err != nil {
		t.Fatal(err)
	}
	// The broker may create streams: JetStream is on, in DataDir/jetstream.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: bus.StreamIn, Subjects: []string{bus.InPrefix + ">"},
		Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("JetStream store not under DataDir: %v", err)
	}

	// The agency publishes on its inbound subject through JetStream.
	ac, err := connect(t, s.ClientURL(), police, nil)
	if err != nil {
		t.Fatalf("agency connect: %v", err)
	}
	ajs, err := jetstream.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := ajs.Publish(ctx, bus.In(police.id), []byte("envelope"))
	if err != nil {
		t.Fatalf("agency publish: %v", err)
	}
	if ack.Stream != bus.StreamIn || ack.Sequence != 1 {
		t.Fatalf("PubAck = %+v", ack)
	}
	st, err := js.Stream(ctx, bus.StreamIn)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "envelope" || m.Subject != bus.In(police.id) {
		t.Fatalf("stored message = %+v, %v", m, err)
	}
}

func TestUnknownNKeyRefused(t *testing.T) {
	brokerP, police := newParty(t, "broker"), newParty(t, "polisen-syd")
	s, _ := start(t, newDirectory(t, brokerP, police))
	stranger := newParty(t, "okand")
	if _, err := connect(t, s.ClientURL(), stranger, nil); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect with an nkey not in the directory: %v, want an authorization error", err)
	}
	// Nor without any credentials.
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
	if err == nil {
		nc.Close()
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("connect without credentials: %v, want an authorization error", err)
	}
}

// TestUpdate: a directory change lets a new agency in at once, leaves the
// connections of unchanged agencies up and disconnects a removed agency.
func TestUpdate(t *testing.T) {
	brokerP, police, school := newParty(t, "broker"), newParty(t, "polisen-syd"), newParty(t, "rosengard-skola")
	d1 := newDirectory(t, brokerP, police)
	s, _ := start(t, d1)
	url := s.ClientURL()

	if _, err := connect(t, url, school, nil); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("school before it is in the directory: %v", err)
	}
	pc, err := connect(t, url, police, nil)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	pc.SetClosedHandler(func(*nats.Conn) { close(closed) })

	// Keep the police's nkey, add the school's.
	d2 := newDirectory(t, brokerP, police, school)
	if err := s.Update(d2); err != nil {
		t.Fatal(err)
	}
	if s.ClientURL() != url {
		t.Fatalf("the port moved on update: %s, was %s", s.ClientURL(), url)
	}
	sc, err := connect(t, url, school, nil)
	if err != nil {
		t.Fatalf("school after Update: %v", err)
	}
	if err := sc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := pc.FlushTimeout(timeout); err != nil || !pc.IsConnected() {
		t.Fatalf("police connection after an unrelated update: connected=%v, %v", pc.IsConnected(), err)
	}

	// Remove the police: their connection is closed by the server.
	if err := s.Update(newDirectory(t, brokerP, school)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(timeout):
		t.Fatal("the removed agency's connection is still open")
	}
	if _, err := connect(t, url, police, nil); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("removed agency reconnects: %v", err)
	}
}

// TestShutdown: Shutdown returns once the server has stopped; clients see
// the connection close and the port no longer accepts them.
func TestShutdown(t *testing.T) {
	brokerP := newParty(t, "broker")
	d := newDirectory(t, brokerP)
	s, err := natsserver.Start(natsserver.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Port: -1, Directory: d})
	if err != nil {
		t.Fatal(err)
	}
	url := s.ClientURL()
	nc, err := connect(t, url, brokerP, nil)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	s.Shutdown()
	select {
	case <-closed:
	case <-time.After(timeout):
		t.Fatal("client still connected after Shutdown")
	}
	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("server still accepts connections after Shutdown")
	}
}

func TestConfigRequired(t *testing.T) {
	d := newDirectory(t, newParty(t, "broker"))
	// A directory that was never parsed has no key list, so no usable nkey.
	noKey := directory.Directory{Broker: d.Broker}
	noKey.Broker.Keys = nil
	for want, cfg := range map[string]natsserver.Config{
		"DataDir is required":   {Host: "127.0.0.1", Directory: d},
		"Host is required":      {DataDir: t.TempDir(), Directory: d},
		"Directory is required": {DataDir: t.TempDir(), Host: "127.0.0.1"},
		"brokerctl init":        {DataDir: t.TempDir(), Host: "127.0.0.1", Directory: &noKey},
	} {
		if s, err := natsserver.Start(cfg); err == nil || !strings.Contains(err.Error(), want) {
			if s != nil {
				s.Shutdown()
			}
			t.Errorf("Start(%+v) = %v, want an error saying %q", cfg, err, want)
		}
	}
}

func TestAuthorizationConfig(t *testing.T) {
	brokerP, police := newParty(t, "broker"), newParty(t, "polisen-syd")
	d := newDirectory(t, brokerP, police)
	conf := string(natsserver.AuthorizationConfig(d))
	for _, want := range []string{
		"# the broker, key ", `{nkey: "` + brokerP.nkey(t) + `", permissions: {publish: {allow: [">"]}, subscribe: {allow: [">"]}}}`,
		"# polisen-syd, key ", `{nkey: "` + police.nkey(t) + `"`, `"` + bus.In(police.id) + `"`, `"` + bus.InboxPrefix(police.id) + `.>"`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("authorization config lacks %q:\n%s", want, conf)
		}
	}
	if users := natsserver.Users(d); len(users) != 2 {
		t.Fatalf("Users = %d entries, want the broker and one agency", len(users))
	}
}
