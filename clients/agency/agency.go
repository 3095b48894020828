// Package agency is the Go SDK for agencies connected to a sekretessbroker.
//
// An agency signs and encrypts each message with its own keys, the broker
// decides it under the sekretess policy, and the recipient gets it with the
// broker's signed decision attached. The sender always gets a signed receipt:
// delivered, or rejected with every reason.
//
//	id, _ := agency.LoadIdentity("data/agencies/polisen-syd", "polisen-syd")
//	c, _ := agency.Dial(ctx, agency.Config{URL: url, Identity: id, Directory: dir})
//	receipt, err := c.Deliver(ctx, agency.Message{To: "soc-malmo", Kind: "concern_report", Metadata: meta, Payload: text})
//
// A requester waits for the answer, a responder serves its inbox:
//
//	answer, err := c.Request(ctx, agency.Message{To: "rosengard-skola", Metadata: agency.Claims{…}})
//	err = c.Serve(ctx, agency.HandlerFunc(func(ctx context.Context, req *agency.Delivery) error {
//		_, err := c.Respond(ctx, req, agency.Claims{Category: "enrolment", SenderRole: "rector"}, data)
//		return err
//	}))
//
// errors.Is tells a denial by policy (ErrDenied) from a message the broker
// could not decide (ErrRefused), from a broker that did not answer
// (ErrUnreachable) and from keys that do not match the directory (ErrBadKey).
package agency

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

// Identity is an agency's private keys: one generation of them, named in
// the directory by KeyID.
type Identity struct {
	// ID is the agency's id in the directory.
	ID       string
	signing  ed25519.PrivateKey
	kid      string
	age      age.Identity
	nkeyPath string
}

// KeyID returns the id of the identity's key in the directory, which every
// envelope it seals names.
func (id *Identity) KeyID() string { return id.kid }

// LoadIdentity reads the keys of agency id from dir, as written by
// "brokerctl agency new" or "brokerctl agency keygen".
func LoadIdentity(dir, id string) (*Identity, error) {
	signing, err := keys.LoadSigningKey(filepath.Join(dir, keys.SigningKeyFile))
	if err != nil {
		return nil, fmt.Errorf("agency %s: %w", id, err)
	}
	ai, err := keys.LoadAgeIdentity(filepath.Join(dir, keys.AgeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("agency %s: %w", id, err)
	}
	kid := directory.KeyID(signing.Public().(ed25519.PublicKey))
	return &Identity{ID: id, signing: signing, kid: kid, age: ai, nkeyPath: filepath.Join(dir, keys.NKeyFile)}, nil
}

// Config says where the broker is and who is connecting.
type Config struct {
	// URL of the NATS server the broker uses.
	URL      string
	Identity *Identity
	// Directory is the agency directory: it holds the recipients' age keys,
	// the senders' signing keys and the broker's keys. It contains no secrets.
	Directory *directory.Directory
	// TLSCA is the CA file the broker's NATS server certificate is checked
	// against; setting it makes the connection use TLS.
	TLSCA string
	// TLSCert and TLSKey are the agency's client certificate and key files,
	// for a server that requires mutual TLS ("brokerctl agency new" writes
	// them as tls.crt and tls.key beside the agency's other keys).
	TLSCert, TLSKey string
}

// Client is a connection of one agency to the broker. It is safe for
// concurrent use.
type Client struct {
	cfg      Config
	self     *directory.Agency
	nc       *nats.Conn
	js       jetstream.JetStream
	inbox    jetstream.Consumer
	receipts jetstream.Consumer
	reg      *consent.Registry // this agency's consent records
	closed   chan struct{}     // closed by the connection's ClosedHandler

	mu      sync.Mutex
	held    []*Delivery                 // deliveries read but not yet returned, in order
	awaited map[string]bool             // ids of requests whose answers a Request waits for
	sent    map[string]bool             // ids this client sent whose receipts it has not read
	pending map[string]*decision.Record // receipts read for this client's messages, not yet asked for
	// answered holds receipts already returned, so that a second receipt for
	// the same message (a resend's) is known as this client's and dropped.
	answered map[string]bool

	// asyncErr is the last error the server reported asynchronously, such as a
	// permission violation; it explains a fetch that otherwise just times out.
	asyncErr atomic.Pointer[error]
}

// Dial connects an agency to the broker.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Identity == nil || cfg.Directory == nil {
		return nil, errors.New("agency: Config needs an Identity and a Directory")
	}
	self, ok := cfg.Directory.Lookup(cfg.Identity.ID)
	if !ok {
		return nil, fmt.Errorf("agency: %q is not in the directory; enrol it with brokerctl agency keygen and agency add", cfg.Identity.ID)
	}
	key, err := self.KeyAt(cfg.Identity.kid, time.Now())
	if errors.Is(err, directory.ErrKeyNotYetValid) {
		// Enrolled a moment ahead of this clock: the broker checks each
		// message's key at the time it accepts it.
		key, _ = self.Key(cfg.Identity.kid)
	} else if err != nil {
		return nil, fmt.Errorf("agency: the signing key of %s cannot be used: %w: %w", self.ID, ErrBadKey, err)
	}
	if !ageKeyMatches(cfg.Identity.age, key.Recipient()) {
		return nil, fmt.Errorf("agency: the age key of %s does not match its key %s in the directory: %w", self.ID, key.ID, ErrBadKey)
	}
	opts := []nats.Option{
		nats.Name("agency " + self.ID),
		nats.CustomInboxPrefix(bus.InboxPrefix(self.ID)),
		nats.MaxReconnects(-1),
	}
	if key.NKey != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.Identity.nkeyPath)
		if err != nil {
			return nil, fmt.Errorf("agency: nats key: %w", err)
		}
		opts = append(opts, o)
	}
	tlsOpts, err := tlsca.NATSOptions(cfg.TLSCA, cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("agency: TLSCert and TLSKey: %w", err)
	}
	opts = append(opts, tlsOpts...)
	c := &Client{cfg: cfg, self: self, awaited: map[string]bool{}, sent: map[string]bool{}, pending: map[string]*decision.Record{}, answered: map[string]bool{},
		closed: make(chan struct{})}
	var closeOnce sync.Once
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.asyncErr.Store(&err)
	}), nats.ClosedHandler(func(*nats.Conn) {
		closeOnce.Do(func() { close(c.closed) })
	}))
	nc, err := nats.Connect(cfg.URL, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, fmt.Errorf("agency: %s refused the NATS key of %s: %w: %w", cfg.URL, self.ID, ErrBadKey, err)
	}
	if err != nil {
		return nil, fmt.Errorf("agency: connect to %s: %w: %w", cfg.URL, ErrUnreachable, err)
	}
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("agency: %w", err)
	}
	c.reg = consent.Bind(c.js)
	if c.inbox, err = c.js.Consumer(ctx, bus.StreamOut, bus.InboxConsumer(self.ID)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("agency: inbox of %s (is the broker running?): %w: %w", self.ID, ErrUnreachable, err)
	}
	if c.receipts, err = c.js.Consumer(ctx, bus.StreamReceipts, bus.ReceiptConsumer(self.ID)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("agency: receipts of %s: %w", self.ID, err)
	}
	return c, nil
}

// ageKeyMatches reports whether id opens a file sealed to r: the only test
// that works for every kind of age key.
func ageKeyMatches(id age.Identity, r age.Recipient) bool {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return false
	}
	if _, err := w.Write([]byte("sekretessbroker key check")); err != nil || w.Close() != nil {
		return false
	}
	_, err = age.Decrypt(&buf, id)
	return err == nil
}

// closeWait bounds how long Close waits for the connection to drain.
const closeWait = 5 * time.Second

// Close drains the connection and waits, at most five seconds, until it is
// closed.
func (c *Client) Close() error {
	err := c.nc.Drain()
	// Drain runs in the background; a program that exits right after Close
	// must not cut off what is still being sent.
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.closed:
	case <-t.C:
	}
	return err
}

// Message is an outgoing message.
type Message struct {
	To   string
	Kind string
	// ReplyTo is the id of the message this one answers, if any.
	ReplyTo string
	// Metadata is what the policy decides on (the data category, the subject's
	// age, the documented assessments…), encoded as JSON and encrypted to the
	// broker. See policies/README.md.
	Metadata any
	// Payload is the content itself, encrypted so that only the recipient can
	// read it.
	Payload []byte
	// CreatedAt is the message's time; zero means now.
	CreatedAt time.Time
}

// Send signs, encrypts and publishes m and returns its message id once the
// broker's inbound stream has stored it. The outcome arrives as a receipt.
func (c *Client) Send(ctx context.Context, m Message) (string, error) {
	raw, id, err := c.Seal(m)
	if err != nil {
		return "", err
	}
	if err := c.Publish(ctx, raw, id); err != nil {
		return "", err
	}
	return id, nil
}

// Seal builds the signed envelope for m without sending it.
func (c *Client) Seal(m Message) (raw []byte, id string, err error) {
	to, ok := c.cfg.Directory.Lookup(m.To)
	if !ok {
		return nil, "", fmt.Errorf("agency: recipient %q is not in the directory", m.To)
	}
	meta, err := json.Marshal(m.Metadata)
	if err != nil {
		return nil, "", fmt.Errorf("agency: metadata: %w", err)
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	h := envelope.Header{
		Version: 2, Kid: c.cfg.Identity.kid, ID: envelope.NewID(), From: c.self.ID, To: to.ID,
		Kind: m.Kind, CreatedAt: created.UTC(), ReplyTo: m.ReplyTo,
	}
	// Every key valid now, so that a party in the middle of a rotation can
	// read it with the old key or the new.
	now := time.Now()
	brokers, recipients := c.cfg.Directory.Broker.CurrentRecipients(now), to.CurrentRecipients(now)
	if len(brokers) == 0 {
		return nil, "", errors.New("agency: the broker has no key valid now in the directory; update the directory")
	}
	if len(recipients) == 0 {
		return nil, "", fmt.Errorf("agency: %s has no key valid now in the directory; update the directory", to.ID)
	}
	raw, err = envelope.SealTo(h, meta, brokers, m.Payload, recipients, c.cfg.Identity.signing)
	if err != nil {
		return nil, "", fmt.Errorf("agency: %w", err)
	}
	return raw, h.ID, nil
}

// Publish sends a sealed envelope. Sending the same envelope again is safe,
// whenever it is done: the broker decides it once, delivers it at most once,
// and answers every copy with the receipt of that one decision, so Receipt
// returns it after a resend too (after a lost receipt, or a restart of this
// program or of the broker). A new envelope with the same id is a replay,
// and refused.
func (c *Client) Publish(ctx context.Context, raw []byte, id string) error {
	if len(raw) > envelope.DefaultMaxSize {
		return fmt.Errorf("agency: the envelope is %d bytes and the broker accepts at most %d: %w",
			len(raw), envelope.DefaultMaxSize, envelope.ErrTooLarge)
	}
	msg := nats.NewMsg(bus.In(c.self.ID))
	msg.Data = raw
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
		// Its receipt is this client's, whichever of its calls reads it.
		c.mu.Lock()
		c.sent[id] = true
		c.mu.Unlock()
	}
	ack, err := c.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return fmt.Errorf("agency: publish: %w: %w", ErrUnreachable, err)
	}
	if id != "" && ack.Duplicate {
		// The inbound stream holds this id already, so it stored nothing and
		// no receipt follows from this copy, while the first copy's receipt
		// may have been read long ago. A copy under a msg id of its own is
		// stored, and the broker answers it with the first copy's decision.
		resend := nats.NewMsg(msg.Subject)
		resend.Data = raw
		if _, err := c.js.PublishMsg(ctx, resend, jetstream.WithMsgID(id+resentMsgID+envelope.NewID())); err != nil {
			return fmt.Errorf("agency: publish: %w: %w", ErrUnreachable, err)
		}
	}
	return nil
}

// resentMsgID joins a message id and a random part into the msg id of a
// resent copy.
const resentMsgID = "-resent-"

// answeredLimit bounds Client.answered; past it the set is cleared, and a
// late second receipt is left for other processes as any other one.
const answeredLimit = 4096

// RejectedError is returned by Deliver when the broker rejected a message.
// Receipt holds the broker's signed record with every reason. It matches
// ErrDenied when the policy denied the message and ErrRefused when the
// broker could not decide it (Receipt.ErrorCode says why: one of the codes
// in package errcode, which also says whether sending again can help).
type RejectedError struct {
	Receipt *decision.Record
}

// Is makes errors.Is(err, ErrDenied) and errors.Is(err, ErrRefused) work,
// and errors.Is(err, ErrBadKey) for a message the broker could not verify or
// open with the keys in its directory, or that was signed with a revoked key.
func (e *RejectedError) Is(target error) bool {
	switch code := e.Receipt.ErrorCode; {
	case code == "":
		return target == ErrDenied
	case code == errcode.BadSignature || code == errcode.WrongKey || code == errcode.RevokedKey:
		return target == ErrRefused || target == ErrBadKey
	}
	return target == ErrRefused
}

func (e *RejectedError) Error() string {
	code := ""
	if e.Receipt.ErrorCode != "" {
		code = " [" + e.Receipt.ErrorCode + "]"
	}
	return fmt.Sprintf("rejected by the broker%s: %s", code, strings.Join(e.Receipt.Reasons, "; "))
}

// Deliver sends m and waits for its receipt. It returns the receipt when the
// message was delivered and a *RejectedError when it was not.
func (c *Client) Deliver(ctx context.Context, m Message) (*decision.Record, error) {
	id, err := c.Send(ctx, m)
	if err != nil {
		return nil, err
	}
	return c.Receipt(ctx, id)
}

// Receipt waits for the receipt of the message with the given id. A rejected
// message yields the receipt and a *RejectedError. Receipts of other
// messages are left at the broker for whoever waits for them, in this
// process or in another one of the same agency. When none arrives in time,
// the error wraps ErrUnreachable: the message was sent, so do not send it
// again; its receipt stays at the broker.
func (c *Client) Receipt(ctx context.Context, messageID string) (*decision.Record, error) {
	for {
		c.mu.Lock()
		r, ok := c.pending[messageID]
		delete(c.pending, messageID)
		c.mu.Unlock()
		if ok {
			return receiptResult(r)
		}
		// A short wait, so that a receipt another call read for this one is
		// seen soon.
		m, err := c.next(ctx, c.receipts, 250*time.Millisecond)
		if errors.Is(err, errIdle) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("agency: no receipt yet for message %s, which was sent (do not send it again): %w: %w", messageID, ErrUnreachable, err)
		}
		r, err = c.verifyReceipt(m)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		mine := r.MessageID == messageID || c.sent[r.MessageID] || c.answered[r.MessageID]
		c.mu.Unlock()
		if !mine {
			// Another process of this agency sent it: leave it for that one,
			// after a random while so that waiters do not pass receipts round
			// in step for ever.
			_ = m.NakWithDelay(otherReceiptDelay + time.Duration(rand.Int64N(int64(otherReceiptDelay))))
			continue
		}
		if err := ack(m); err != nil {
			return nil, fmt.Errorf("agency: ack receipt: %w", err)
		}
		c.mu.Lock()
		delete(c.sent, r.MessageID)
		again := c.answered[r.MessageID]
		if r.MessageID != messageID && !again {
			c.pending[r.MessageID] = r
		}
		if len(c.answered) >= answeredLimit {
			clear(c.answered)
		}
		c.answered[r.MessageID] = true
		c.mu.Unlock()
		if r.MessageID == messageID {
			return receiptResult(r)
		}
	}
}

// receiptResult is what Receipt returns for r: r, and a *RejectedError when
// the message was not delivered.
func receiptResult(r *decision.Record) (*decision.Record, error) {
	if !r.Allowed() {
		return r, &RejectedError{Receipt: r}
	}
	return r, nil
}

// otherReceiptDelay is about how long Receipt leaves a receipt of another
// process before the broker offers it again.
const otherReceiptDelay = 200 * time.Millisecond

// NextReceipt returns the next receipt addressed to this agency, verified
// against the broker's key, and takes it from the broker. Receipts for
// messages whose envelope could not be read carry no message id. A receipt
// that does not verify stays at the broker and the error wraps ErrBadKey.
func (c *Client) NextReceipt(ctx context.Context) (*decision.Record, error) {
	m, err := c.next(ctx, c.receipts, 0)
	if err != nil {
		return nil, err
	}
	r, err := c.verifyReceipt(m)
	if err != nil {
		return nil, err
	}
	if err := ack(m); err != nil {
		return nil, fmt.Errorf("agency: ack receipt: %w", err)
	}
	return r, nil
}

// verifyDecision checks a receipt or a delivery's decision against the
// broker's keys in the directory. A key that has been rotated out still
// verifies what it signed while it was valid, so old receipts stay
// verifiable; a revoked key verifies nothing, whenever the record says it
// was made, because whoever holds a revoked key can write any date.
func (c *Client) verifyDecision(body []byte, sig string) (*decision.Record, error) {
	b := &c.cfg.Directory.Broker
	err := decision.ErrBadSignature
	for i := range b.Keys {
		k := &b.Keys[i]
		if k.RevokedAt != nil {
			continue
		}
		r, verr := decision.Verify(k.SigningPublicKey(), body, sig)
		if verr != nil {
			err = verr
			continue
		}
		if _, kerr := b.KeyAt(k.ID, r.DecidedAt); kerr != nil && !errors.Is(kerr, directory.ErrKeyNotYetValid) {
			return nil, fmt.Errorf("%w: %w", decision.ErrBadSignature, kerr)
		}
		return r, nil
	}
	return nil, err
}

func (c *Client) verifyReceipt(m jetstream.Msg) (*decision.Record, error) {
	r, err := c.verifyDecision(m.Data(), m.Headers().Get(bus.HeaderSignature))
	if err != nil {
		// Only the broker publishes receipts: the broker key in this agency's
		// directory is not the broker's. Keep the receipt until it is.
		_ = m.NakWithDelay(badKeyRetry)
		return nil, fmt.Errorf("agency: receipt: the broker's signature does not verify with the broker key in the directory: %w: %w", ErrBadKey, err)
	}
	return r, nil
}

// ack acknowledges m and waits for the server to confirm it, so that a
// program exiting right after has not lost the acknowledgement.
func ack(m jetstream.Msg) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return m.DoubleAck(ctx)
}

// Delivery is a message delivered to this agency.
type Delivery struct {
	ID        string
	From      string
	Kind      string
	ReplyTo   string
	CreatedAt time.Time
	// Payload is the decrypted content.
	Payload []byte
	// Decision is the broker's signed decision that allowed the delivery: the
	// rule, its basis in law and the obligations that travel with the data.
	Decision *decision.Record
	// SetAside, when not empty, says why this agency could not check the
	// delivery itself and took it on the broker's word; it begins with a
	// constant such as SetAsideSenderLeft. Such a delivery is kept apart and
	// looked at by a person before anything is done with it.
	SetAside string `json:",omitempty"`

	msg jetstream.Msg
}

// Ack removes the delivery from the inbox, once the server confirms it. Until
// it is acknowledged it is delivered again, so acknowledge only after the
// content is safely stored.
func (d *Delivery) Ack() error { return ack(d.msg) }

// Next returns the next delivery, with its payload decrypted and both the
// sender's signature and the broker's decision verified. A delivery this
// agency's keys or directory cannot verify or open is kept in the inbox and
// offered again after a while; the error wraps ErrBadKey. A delivery that is
// not a well-formed envelope matching the broker's decision is discarded
// (its decision stays in the audit log) and an error returned.
func (c *Client) Next(ctx context.Context) (*Delivery, error) {
	if d := c.takeHeld(func(d *Delivery) bool { return !c.awaited[d.ReplyTo] }); d != nil {
		return d, nil
	}
	return c.fetchDelivery(ctx, "", 0)
}

// badKeyRetry is how long a delivery that failed with ErrBadKey waits before
// it is offered again.
const badKeyRetry = 10 * time.Second

// fetchDelivery returns the next delivery from the broker, waiting until ctx
// is done (with idle > 0, see next). An answer to a request that another
// Request waits for is held for it, unless it answers want.
func (c *Client) fetchDelivery(ctx context.Context, want string, idle time.Duration) (*Delivery, error) {
	for {
		m, err := c.next(ctx, c.inbox, idle)
		if err != nil {
			return nil, err
		}
		d, err := c.open(m)
		if errors.Is(err, ErrBadKey) {
			// Readable once the keys or the directory are put right: keep it.
			_ = m.NakWithDelay(badKeyRetry)
			return nil, err
		}
		if err != nil {
			_ = m.Term()
			return nil, err
		}
		c.mu.Lock()
		other := d.ReplyTo != "" && d.ReplyTo != want && c.awaited[d.ReplyTo]
		c.mu.Unlock()
		if !other {
			return d, nil
		}
		c.hold(d)
	}
}

func (c *Client) open(m jetstream.Msg) (*Delivery, error) {
	rec, err := c.verifyDecision([]byte(m.Headers().Get(bus.HeaderDecision)), m.Headers().Get(bus.HeaderSignature))
	if err != nil {
		// Only the broker can publish to an inbox: the broker key in this
		// agency's directory is not the broker's.
		return nil, fmt.Errorf("agency: delivery: the broker's decision does not verify with the broker key in the directory: %w: %w", ErrBadKey, err)
	}
	env, err := envelope.Parse(m.Data(), 0)
	if err != nil {
		return nil, fmt.Errorf("agency: delivery: %w", err)
	}
	h := env.Header
	if !rec.Allowed() || rec.MessageID != h.ID || rec.Recipient != c.self.ID || h.To != c.self.ID {
		return nil, fmt.Errorf("agency: delivery %s: the broker's decision does not match the envelope", h.ID)
	}
	sender, ok := c.cfg.Directory.Lookup(h.From)
	if !ok {
		return c.setAside(m, env, rec, fmt.Sprintf("%s: sender %s no longer in the directory; the broker verified its signature when it decided", SetAsideSenderLeft, h.From))
	}
	// The broker checked the key's validity when it accepted the message;
	// here the signature must verify with a key of the sender that had not
	// been revoked when the message was made. Not yet or no longer valid is
	// left to the broker, whose clock decided.
	_, err = sender.VerifyEnvelope(env, h.CreatedAt)
	if errors.Is(err, directory.ErrKeyNotYetValid) || errors.Is(err, directory.ErrKeyExpired) {
		err = nil
	}
	if err != nil {
		// The broker verified it with its directory: this agency's copy differs.
		return nil, fmt.Errorf("agency: delivery %s: the signature of %s does not verify with its keys in the directory: %w: %w", h.ID, h.From, ErrBadKey, err)
	}
	payload, err := env.OpenPayload(c.cfg.Identity.age)
	if errors.Is(err, envelope.ErrWrongKey) {
		return nil, fmt.Errorf("agency: delivery %s from %s is not sealed to this agency's age key (the sender's directory or these key files are out of date): %w: %w", h.ID, h.From, ErrBadKey, err)
	}
	if err != nil {
		return nil, fmt.Errorf("agency: delivery %s: %w", h.ID, err)
	}
	return &Delivery{
		ID: h.ID, From: h.From, Kind: h.Kind, ReplyTo: h.ReplyTo, CreatedAt: h.CreatedAt,
		Payload: payload, Decision: rec, msg: m,
	}, nil
}

// SetAsideSenderLeft begins Delivery.SetAside for a delivery whose sender has
// left the directory since the broker decided it.
const SetAsideSenderLeft = "sender no longer in the directory"

// setAside opens a delivery whose sender this agency can no longer check
// itself, on the broker's word: the broker's signed decision names the exact
// envelope (its SHA-256), and the broker verified the sender's signature
// before it decided. The delivery is returned, marked with why, so that it
// is kept with everything else instead of blocking the inbox; a decision
// that does not name these bytes is a key problem as before.
func (c *Client) setAside(m jetstream.Msg, env *envelope.Envelope, rec *decision.Record, why string) (*Delivery, error) {
	h := env.Header
	if err := env.VouchedFor(rec.EnvelopeSHA256); err != nil {
		return nil, fmt.Errorf("agency: delivery %s: sender %q is not in this agency's copy of the directory, and the broker's decision does not name this envelope: %w: %w", h.ID, h.From, ErrBadKey, err)
	}
	payload, err := env.OpenPayload(c.cfg.Identity.age)
	if errors.Is(err, envelope.ErrWrongKey) {
		return nil, fmt.Errorf("agency: delivery %s from %s is not sealed to this agency's age key: %w: %w", h.ID, h.From, ErrBadKey, err)
	}
	if err != nil {
		return nil, fmt.Errorf("agency: delivery %s: %w", h.ID, err)
	}
	return &Delivery{
		ID: h.ID, From: h.From, Kind: h.Kind, ReplyTo: h.ReplyTo, CreatedAt: h.CreatedAt,
		Payload: payload, Decision: rec, SetAside: why, msg: m,
	}, nil
}

// next fetches one message, waiting until ctx is done; with idle > 0, for
// at most idle, after which it returns errIdle.
func (c *Client) next(ctx context.Context, cons jetstream.Consumer, idle time.Duration) (jetstream.Msg, error) {
	m, err := fetch(ctx, cons, idle)
	if err != nil {
		if e := c.asyncErr.Load(); e != nil {
			return nil, fmt.Errorf("%w (the server reported: %v)", err, *e)
		}
	}
	return m, err
}

// errIdle: nothing arrived within the idle time asked for.
var errIdle = errors.New("agency: nothing arrived yet")

func fetch(ctx context.Context, cons jetstream.Consumer, idle time.Duration) (jetstream.Msg, error) {
	for {
		wait := 5 * time.Second
		if idle > 0 {
			wait = idle
		}
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl); left < wait {
				wait = left
			}
		}
		if wait < 10*time.Millisecond {
			return nil, fmt.Errorf("agency: nothing arrived: %w", context.DeadlineExceeded)
		}
		m, err := cons.Next(jetstream.FetchMaxWait(wait))
		if err == nil {
			return m, nil
		}
		if !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("agency: fetch: %w: %w", ErrUnreachable, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("agency: nothing arrived: %w", ctx.Err())
		}
		if idle > 0 {
			return nil, errIdle
		}
	}
}
