package agency_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestConcurrentDeliversGetTheirOwnReceipts: many goroutines of two clients
// of one agency send at once; each gets the receipt of its own message.
func TestConcurrentDeliversGetTheirOwnReceipts(t *testing.T) {
	w := newWorld(t)
	sch := w.dial(school)
	pn, bd := w.child(school)
	// A second client of the same agency, as on another machine: it shares
	// the agency's receipts at the broker.
	other := w.dial(school)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := sch
			if i%2 == 1 {
				c = other
			}
			r, err := c.Deliver(ctxT(t), agency.Message{To: social, Kind: agency.KindConcernReport,
				Metadata: agency.Claims{Category: "concern", Purpose: "orosanmälan", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}},
				Payload:  fmt.Appendf(nil, "oro %d", i)})
			if err == nil && !r.Allowed() {
				err = fmt.Errorf("receipt %+v", r)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestConcurrentRequestsAndServe: two requests of one client are answered in
// the opposite order, while the same client also serves its inbox: each
// answer reaches the request it answers, and the server sees neither.
func TestConcurrentRequestsAndServe(t *testing.T) {
	w := newWorld(t)
	pol, sch := w.dial(police), w.dial(school)
	pn, bd := w.child(police)
	ctx, stop := context.WithCancel(ctxT(t))
	defer stop()

	// The police client serves its own inbox meanwhile.
	served := make(chan *agency.Delivery, 4)
	go pol.Serve(ctx, agency.HandlerFunc(func(_ context.Context, d *agency.Delivery) error {
		served <- d
		return nil
	}))

	type result struct {
		i   int
		ans *agency.Delivery
		err error
	}
	results := make(chan result, 2)
	for i, cat := range []string{"enrolment", "class_list"} {
		go func() {
			ans, err := pol.Request(ctx, agency.Message{To: school, Metadata: agency.Claims{
				Category: cat, Purpose: "utreda misshandel på fritiden", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}},
				Payload: []byte("Fråga " + cat)})
			results <- result{i, ans, err}
		}()
	}
	var reqs []*agency.Delivery
	for range 2 {
		d, err := sch.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, d)
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		req := reqs[i]
		var claims agency.Claims
		if string(req.Payload) == "Fråga enrolment" {
			claims = agency.Claims{Category: "enrolment", SenderRole: "rector", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}, Secret: agency.Bool(false)}
		} else {
			claims = agency.Claims{Category: "class_list", SenderRole: "rector", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}, Secret: agency.Bool(false)}
		}
		if _, err := sch.Respond(ctx, req, claims, []byte("Svar på "+string(req.Payload))); err != nil {
			t.Fatal(err)
		}
		req.Ack()
	}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("request %d: %v", r.i, r.err)
		}
		want := []string{"Svar på Fråga enrolment", "Svar på Fråga class_list"}[r.i]
		if string(r.ans.Payload) != want {
			t.Fatalf("request %d got %q, want %q", r.i, r.ans.Payload, want)
		}
		r.ans.Ack()
	}
	select {
	case d := <-served:
		t.Fatalf("Serve took %s, an answer to a request", d.ID)
	default:
	}
}
