package webdesk_test

import (
	"context"
	"log"
	"net/http"
	"path/filepath"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
	"github.com/sekretessbroker/sekretessbroker/clients/webdesk"
)

// A gateway mounts the desk of its agency at /desk/, beside its API. The
// agency's home holds its keys, its copy of the pseudonym key and its inbox.
func ExampleNew() {
	const id, home = "rosengard-skola", "agencies/rosengard-skola"
	dir, err := directory.Load("data/directory.yaml")
	if err != nil {
		log.Fatal(err)
	}
	ident, err := agency.LoadIdentity(home, id)
	if err != nil {
		log.Fatal(err)
	}
	cl, err := agency.Dial(context.Background(), agency.Config{URL: "nats://127.0.0.1:4222", Identity: ident, Directory: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	key, err := pseudonym.LoadKey(filepath.Join(home, pseudonym.KeyFile))
	if err != nil {
		log.Fatal(err)
	}
	box, err := inbox.Open(layout.HomeInbox(home))
	if err != nil {
		log.Fatal(err)
	}
	hash, err := webdesk.HashPassword("the rector's password") // kept in the gateway's configuration
	if err != nil {
		log.Fatal(err)
	}
	desk, err := webdesk.New(webdesk.Config{Client: cl, AgencyID: id, Directory: dir, Pseudonym: key, Inbox: box,
		BasePath: "/desk/",
		Users:    []webdesk.User{{Name: "eva.berg", DisplayName: "Eva Berg, rektor", Role: "rector", PasswordHash: hash}}})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/desk/", desk)
	log.Fatal(http.ListenAndServe("127.0.0.1:8443", mux))
}
