package consent_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// connect returns a JetStream context on a new connection to url.
func connect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// An agency records a consent it collected and later its withdrawal. The
// broker has created the bucket with Open; the agency's connection only
// binds to it.
func ExampleBind() {
	url, stop, err := brokertest.StartJetStream()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The broker, at start.
	bnc, bjs, err := connect(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bnc.Close()
	if _, err := consent.Open(ctx, bjs, 1, limits.Stream{}); err != nil {
		fmt.Println(err)
		return
	}

	// Social services, on their own connection.
	nc, js, err := connect(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	reg := consent.Bind(js)

	given := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	ref, err := reg.Put(ctx, "soc-malmo", consent.Record{
		ID:         "samtycke-1",
		Subject:    consent.Subject{Pseudonym: "ps-1", BirthDate: "2012-03-04"},
		Categories: []string{"case_details"}, Recipients: []string{"rosengard-skola"},
		Purpose: "samordnat stöd",
		GivenBy: []consent.Giver{{Role: consent.RoleGuardian, By: "mamma", At: given},
			{Role: consent.RoleGuardian, By: "pappa", At: given}},
		GuardianCount:      2,
		MaturityAssessment: &consent.Judgement{By: "Handläggare Berg", At: given, Outcome: consent.MaturityChildConsentRequired},
		Documented:         consent.Documentation{How: "oral", By: "Handläggare Berg", At: given},
		ValidFrom:          given,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("recorded", ref)

	if _, err := reg.Withdraw(ctx, ref, given.Add(30*24*time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	r, err := reg.Get(ctx, ref)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("withdrawn at", r.WithdrawnAt.Format(time.DateOnly))
	// Output:
	// recorded soc-malmo.samtycke-1
	// withdrawn at 2026-03-03
}
