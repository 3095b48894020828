package natsserver

import (
	"context"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
)

// TestClients: the server lists each client connection with the nkey it
// logged in with, open while it is and closed after, with the time of its
// last message.
func TestClients(t *testing.T) {
	brk, pol := newUserKey(t), newUserKey(t)
	d := &directory.Directory{
		Broker:   directory.Broker{Keys: []directory.Key{brk.key}},
		Agencies: []directory.Agency{{ID: "polis", Kind: directory.KindPolice, Name: "Polis", Keys: []directory.Key{pol.key}}},
	}
	s, err := Start(Config{DataDir: t.TempDir(), Host: "127.0.0.1", Port: -1, Directory: parse(t, d), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	if cs, err := s.Clients(); err != nil || len(cs) != 0 {
		t.Fatalf("Clients before any connection = %v, %v", cs, err)
	}

	closed := make(chan struct{})
	nc, err := connect(t, s.ClientURL(), pol, closed)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(bus.In("polis"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The round trip makes the server handle the publish before it is asked.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Clients()
	if err != nil || len(cs) != 1 || cs[0].NKey != pol.key.NKey || !cs[0].Open || cs[0].LastActivity.IsZero() {
		t.Fatalf("Clients with one open connection = %+v, %v", cs, err)
	}
	active := cs[0].LastActivity

	nc.Close()
	<-closed
	// The server records a closed connection once it has torn it down,
	// which no event announces: poll, bounded generously.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closedListed := poll.Until(ctx, func() bool {
		cs, err = s.Clients()
		return err != nil || len(cs) == 1 && !cs[0].Open
	})
	if err != nil {
		t.Fatal(err)
	}
	if closedListed != nil {
		t.Fatalf("the closed connection is still listed as %+v", cs)
	}
	if cs[0].NKey != pol.key.NKey || cs[0].LastActivity.Before(active) {
		t.Fatalf("Clients after close = %+v", cs)
	}
}
