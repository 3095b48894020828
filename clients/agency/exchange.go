package agency

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// Errors a caller tells apart with errors.Is.
var (
	// ErrDenied: the policy found no legal basis; the *RejectedError's
	// receipt lists every reason.
	ErrDenied = errors.New("denied by policy")
	// ErrRefused: the broker could not decide the message (bad signature or
	// key, malformed envelope, unknown party, replay, policy failure); the
	// receipt's ErrorCode says which (see package errcode).
	ErrRefused = errors.New("refused by the broker before a decision")
	// ErrUnreachable: the broker or its NATS server did not answer.
	ErrUnreachable = errors.New("broker unreachable")
	// ErrBadKey: this agency's key files and the directory disagree (its
	// signing, age or NATS key, or a key the broker or a sender used for it).
	// Get the current directory, or the agency's keys, from the broker's
	// operator. A delivery that fails this way stays in the inbox.
	ErrBadKey = errors.New("keys do not match the directory")
)

// Message kinds (policies/README.md).
const (
	KindRequest       = "request"
	KindResponse      = "response"
	KindDisclosure    = "disclosure"
	KindConcernReport = "concern_report"
	KindFeedback      = "feedback"
	KindReport        = "report"
)

// Obligations the broker attaches to data that must not be passed on.
const (
	// ObligationDoNotForward: data from a preliminary investigation (OSL 18 kap.).
	ObligationDoNotForward = "fu-secrecy: do not forward"
	// ObligationWithinConsentScope: data given under a consent (OSL 12 kap.).
	ObligationWithinConsentScope = "within-consent-scope"
)

// Request sends m as a request and waits until ctx is done for the answer: a
// delivered message that replies to it. A request the broker rejects returns
// a *RejectedError at once. Other deliveries that arrive meanwhile are kept
// for Next; take them within the broker's ack wait (30 s), or JetStream
// delivers them again.
//
// Requests, Serve and Next may run at once on one client: an answer goes to
// the Request waiting for it. A delivery this agency cannot open does not
// end the wait; it is reported if no answer comes.
func (c *Client) Request(ctx context.Context, m Message) (*Delivery, error) {
	m.Kind = KindRequest
	raw, id, err := c.Seal(m)
	if err != nil {
		return nil, err
	}
	// Awaited before it is sent, so that an early answer is kept for it.
	c.mu.Lock()
	c.awaited[id] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.awaited, id)
		c.mu.Unlock()
	}()
	if err := c.Publish(ctx, raw, id); err != nil {
		return nil, err
	}
	if _, err := c.Receipt(ctx, id); err != nil {
		return nil, err
	}
	var unopened error
	for {
		if d := c.takeHeld(func(d *Delivery) bool { return d.ReplyTo == id }); d != nil {
			return d, nil
		}
		// A short wait, so that an answer another Request holds for this
		// one is seen soon.
		d, err := c.fetchDelivery(ctx, id, time.Second)
		switch {
		case errors.Is(err, errIdle):
			continue
		case errors.Is(err, ErrBadKey):
			unopened = err
			continue
		case err != nil:
			if unopened != nil {
				err = fmt.Errorf("%w (meanwhile: %v)", err, unopened)
			}
			return nil, fmt.Errorf("agency: no answer to request %s: %w", id, err)
		case d.ReplyTo == id:
			return d, nil
		}
		c.hold(d)
	}
}

// takeHeld takes the first held delivery that match accepts; it runs with
// c.mu held.
func (c *Client) takeHeld(match func(*Delivery) bool) *Delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, d := range c.held {
		if match(d) {
			c.held = slices.Delete(c.held, i, i+1)
			return d
		}
	}
	return nil
}

// hold keeps d for Next; a redelivery of a held message replaces it, so
// that its acknowledgement is the current one.
func (c *Client) hold(d *Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, h := range c.held {
		if h.ID == d.ID {
			c.held[i] = d
			return
		}
	}
	c.held = append(c.held, d)
}

// Respond answers the request req with claims and payload and returns the
// broker's receipt.
func (c *Client) Respond(ctx context.Context, req *Delivery, claims Claims, payload []byte) (*decision.Record, error) {
	return c.Deliver(ctx, Message{To: req.From, Kind: KindResponse, ReplyTo: req.ID, Metadata: claims, Payload: payload})
}

// Disclose sends data on the agency's own initiative and returns the receipt.
func (c *Client) Disclose(ctx context.Context, to string, claims Claims, payload []byte) (*decision.Record, error) {
	return c.Deliver(ctx, Message{To: to, Kind: KindDisclosure, Metadata: claims, Payload: payload})
}

// ReportConcern sends a report of concern (orosanmälan) about a child to
// social services and returns the receipt. The category is "concern".
func (c *Client) ReportConcern(ctx context.Context, to string, claims Claims, text []byte) (*decision.Record, error) {
	claims.Category = "concern"
	return c.Deliver(ctx, Message{To: to, Kind: KindConcernReport, Metadata: claims, Payload: text})
}

// Forward passes data received in d on to another agency as a disclosure.
// It names d in claims.forwarded_from, so that the broker applies the
// obligations d came with: data that must not be forwarded is refused, other
// obligations travel with the data.
func (c *Client) Forward(ctx context.Context, d *Delivery, to string, claims Claims, payload []byte) (*decision.Record, error) {
	if !slices.Contains(claims.ForwardedFrom, d.ID) {
		claims.ForwardedFrom = append(claims.ForwardedFrom, d.ID)
	}
	return c.Disclose(ctx, to, claims, payload)
}

// MayForward reports whether the broker's decision lets the data be passed
// on: not data under FU secrecy, nor data given under a consent, which
// covers only the disclosure to this agency.
func (d *Delivery) MayForward() bool {
	return !slices.Contains(d.Decision.Obligations, ObligationDoNotForward) &&
		!slices.Contains(d.Decision.Obligations, ObligationWithinConsentScope)
}

// Handler handles deliveries for Serve.
type Handler interface {
	// Handle processes one delivery. Returning nil acknowledges it; an
	// error hands it back to be delivered again.
	Handle(ctx context.Context, d *Delivery) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, d *Delivery) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, d *Delivery) error { return f(ctx, d) }

// Serve hands every delivery to h until ctx is done, then returns nil. A
// delivery h fails on is handed back to JetStream and Serve returns the
// error; so it does for a delivery that does not verify (which is refused)
// and when the broker cannot be reached. Call Serve again to go on.
func (c *Client) Serve(ctx context.Context, h Handler) error {
	for {
		d, err := c.Next(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := h.Handle(ctx, d); err != nil {
			_ = d.msg.Nak()
			return fmt.Errorf("agency: handling %s from %s: %w", d.ID, d.From, err)
		}
		if err := d.Ack(); err != nil {
			return fmt.Errorf("agency: ack %s: %w", d.ID, err)
		}
	}
}

// RecordConsent records a consent this agency collected and returns the
// reference messages cite as Claims.ConsentRef. r.ID is the agency's own id
// for it; r.WithdrawnAt is ignored.
func (c *Client) RecordConsent(ctx context.Context, r consent.Record) (string, error) {
	return c.reg.Put(ctx, c.self.ID, r)
}

// Consent returns a consent this agency recorded.
func (c *Client) Consent(ctx context.Context, ref string) (*consent.Record, error) {
	return c.reg.Get(ctx, ref)
}

// WithdrawConsent records that a consent this agency recorded was withdrawn
// at the given time (zero: now). Every message dated from then on is
// decided without it.
func (c *Client) WithdrawConsent(ctx context.Context, ref string, at time.Time) (*consent.Record, error) {
	if at.IsZero() {
		at = time.Now()
	}
	return c.reg.Withdraw(ctx, ref, at)
}
