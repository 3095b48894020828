package broker_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker"
	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
	"github.com/sekretessbroker/sekretessbroker/broker/policy/inputschema"
)

const (
	police  = "polisen-syd"
	school  = "rosengard-skola"
	social  = "soc-malmo"
	timeout = 20 * time.Second
)

// The pipeline's error codes these tests expect, in one place.
const (
	codeUnknownSender    = errcode.UnknownSender
	codeUnknownRecipient = errcode.UnknownRecipient
	codeSenderMismatch   = errcode.SenderMismatch
	codeReplay           = errcode.Replay
)

// attempt is one call of fakeAudit.Append.
type attempt struct {
	rec *decision.Record
	err error
}

// fakeAudit is an in-memory audit log. It keeps what Append stored, can be
// told to refuse appends, and can answer Lookup with a decision recorded
// "before a crash".
type fakeAudit struct {
	mu       sync.Mutex
	stored   []*decision.Record
	claims   map[string]*decision.Record // the decision that holds each id
	earlier  map[uint64]*decision.Record // BySeq answers, as if recorded before
	refuse   error                       // Append fails with it while set
	attempts chan attempt                // every Append call, in order
	// gate, if set before the broker starts, holds every Append until it
	// is closed; entered is signalled as each one starts waiting.
	gate    chan struct{}
	entered chan struct{}
}

func newFakeAudit() *fakeAudit {
	return &fakeAudit{earlier: map[uint64]*decision.Record{}, claims: map[string]*decision.Record{}, attempts: make(chan attempt, 1024)}
}

func (f *fakeAudit) Append(ctx context.Context, rec *decision.Record, p *audit.Personal) (*decision.Record, error) {
	return f.append(ctx, rec, p, rec.MessageID != "" && rec.ErrorCode != errcode.Replay)
}

func (f *fakeAudit) AppendUnclaimed(ctx context.Context, rec *decision.Record, p *audit.Personal) (*decision.Record, error) {
	return f.append(ctx, rec, p, false)
}

func (f *fakeAudit) append(_ context.Context, rec *decision.Record, _ *audit.Personal, claim bool) (*decision.Record, error) {
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		f.attempts <- attempt{rec, f.refuse}
		return nil, f.refuse
	}
	// Like the real log: one record per inbound message and envelope.
	for _, r := range f.stored {
		if r.InboundSeq == rec.InboundSeq && r.EnvelopeSHA256 == rec.EnvelopeSHA256 {
			f.attempts <- attempt{r, nil}
			return r, nil
		}
	}
	// Like the real log: one decision holds an id.
	if c := f.claims[rec.MessageID]; claim && c != nil {
		err := &audit.ClaimedError{Record: c}
		f.attempts <- attempt{rec, err}
		return nil, err
	}
	if claim {
		f.claims[rec.MessageID] = rec
	}
	f.stored = append(f.stored, rec)
	f.attempts <- attempt{rec, nil}
	return rec, nil
}

func (f *fakeAudit) Lookup(_ context.Context, seq uint64, id string) (mine, claim *decision.Record, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	claim = f.claims[id]
	if r, ok := f.earlier[seq]; ok {
		return r, claim, nil
	}
	for _, r := range f.stored {
		if r.InboundSeq == seq {
			return r, claim, nil
		}
	}
	return nil, claim, nil
}

func (f *fakeAudit) ByMessage(_ context.Context, id string) (*decision.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.stored {
		if r.MessageID == id && r.ErrorCode == "" {
			return r, nil
		}
	}
	return nil, nil
}

// Err is the refusal in force: the stream's state, as the real log reports it.
func (f *fakeAudit) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refuse
}

func (f *fakeAudit) setRefuse(err error) {
	f.mu.Lock()
	f.refuse = err
	f.mu.Unlock()
}

func (f *fakeAudit) records() []*decision.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*decision.Record(nil), f.stored...)
}

// nextAttempt waits for the next Append call.
func (f *fakeAudit) nextAttempt(t *testing.T) attempt {
	t.Helper()
	select {
	case a := <-f.attempts:
		return a
	case <-time.After(timeout):
		t.Fatal("the pipeline made no audit append")
		return attempt{}
	}
}

// party is an agency's private keys.
type party struct {
	signing ed25519.PrivateKey
	age     *age.X25519Identity
}

func newParty(t *testing.T) *party {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return &party{signing: priv, age: id}
}

func (p *party) publicKeys() (string, string) {
	return keys.FormatSigningPublicKey(p.signing.Public().(ed25519.PublicKey)), p.age.Recipient().String()
}

// world is a broker pipeline on a real embedded NATS server, with the real
// policies and keys, and a fake audit log.
type world struct {
	t       *testing.T
	dir     *directory.Directory
	js      jetstream.JetStream
	audit   *fakeAudit
	metrics *metrics.Metrics
	broker  *party // the broker's signing key and age identity
	parties map[string]*party
}

// newWorld starts everything; prepare, if not nil, runs on the fake audit
// log before the broker starts consuming.
func newWorld(t *testing.T, prepare func(*fakeAudit)) *world {
	t.Helper()
	w := &world{t: t, audit: newFakeAudit(), metrics: metrics.New(), broker: newParty(t), parties: map[string]*party{}}
	if prepare != nil {
		prepare(w.audit)
	}
	nk, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	nkPub, err := nk.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	s, r := w.broker.publicKeys()
	d := &directory.Directory{Broker: directory.Broker{SigningKey: s, AgeRecipient: r, NATS: directory.NATS{NKey: nkPub}}}
	for _, a := range []directory.Agency{
		{ID: police, Kind: directory.KindPolice, Name: "Polisen Malmö Syd"},
		{ID: school, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Rosengårdsskolan"},
		{ID: social, Kind: directory.KindSocialServices, Name: "Socialtjänsten Malmö"},
	} {
		p := newParty(t)
		w.parties[a.ID] = p
		a.SigningKey, a.AgeRecipient = p.publicKeys()
		d.Agencies = append(d.Agencies, a)
	}
	data := t.TempDir()
	path := filepath.Join(data, "directory.yaml")
	if err := directory.Write(path, d); err != nil {
		t.Fatal(err)
	}
	// Quiet: the failures these tests cause on purpose are logged as errors.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 4}))
	src, err := directory.Open(path, log)
	if err != nil {
		t.Fatal(err)
	}
	w.dir = src.Current()

	ns, err := natsserver.Start(natsserver.Config{DataDir: data, Host: "127.0.0.1", Port: -1,
		MaxPayload: (&broker.Config{}).MaxMsgSize(), Directory: w.dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL(), nats.Nkey(nkPub, nk.Sign))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if w.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pol, err := policy.Open(ctx, policy.Config{Dir: filepath.Join("..", "policies"), Logger: log,
		Observe: checkInputs(t, filepath.Join("..", "policies"))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.New(ctx, broker.Config{
		NATS: nc, Directory: src, Policy: pol, Audit: w.audit,
		SigningKey: w.broker.signing, Identity: w.broker.age,
		Workers: 2, Metrics: w.metrics, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
	})
	return w
}

// sealAs builds an envelope from one party to another. to need not be in
// the directory; its age recipient then comes from a fresh key.
func (w *world) sealAs(from *party, fromID, to, kind string, claims map[string]any, payload string) (raw []byte, id string) {
	w.t.Helper()
	return w.sealID(from, fromID, to, kind, claims, payload, envelope.NewID())
}

// sealID is sealAs for a message id of the caller's choosing.
func (w *world) sealID(from *party, fromID, to, kind string, claims map[string]any, payload, msgID string) (raw []byte, id string) {
	w.t.Helper()
	var rcpt age.Recipient = newParty(w.t).age.Recipient()
	if a, ok := w.dir.Lookup(to); ok {
		rcpt = a.Recipient()
	}
	meta, err := json.Marshal(claims)
	if err != nil {
		w.t.Fatal(err)
	}
	h := envelope.Header{ID: msgID, From: fromID, To: to, Kind: kind, CreatedAt: time.Now()}
	raw, err = envelope.Seal(h, meta, w.dir.Broker.Recipient(), []byte(payload), rcpt, from.signing)
	if err != nil {
		w.t.Fatal(err)
	}
	return raw, h.ID
}

func (w *world) seal(from, to, kind string, claims map[string]any, payload string) ([]byte, string) {
	w.t.Helper()
	return w.sealAs(w.parties[from], from, to, kind, claims, payload)
}

// publish puts raw on publisher's inbound subject, as that agency would,
// without a bus message id (so JetStream does not deduplicate it), and
// returns its inbound sequence.
func (w *world) publish(publisher string, raw []byte) uint64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ack, err := w.js.Publish(ctx, bus.In(publisher), raw)
	if err != nil {
		w.t.Fatal(err)
	}
	return ack.Sequence
}

// next takes the next message of a durable consumer the broker created.
func (w *world) next(stream, consumer string) jetstream.Msg {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := w.js.Consumer(ctx, stream, consumer)
	if err != nil {
		w.t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(timeout))
	if err != nil {
		w.t.Fatalf("nothing from %s: %v", consumer, err)
	}
	if err := m.DoubleAck(ctx); err != nil {
		w.t.Fatal(err)
	}
	return m
}

// receipt takes agency id's next receipt and verifies the broker's signature.
func (w *world) receipt(id string) *decision.Record {
	w.t.Helper()
	m := w.next(bus.StreamReceipts, bus.ReceiptConsumer(id))
	r, err := decision.Verify(w.dir.Broker.SigningPublicKey(), m.Data(), m.Headers().Get(bus.HeaderSignature))
	if err != nil {
		w.t.Fatalf("receipt for %s: %v", id, err)
	}
	return r
}

// delivery takes agency id's next delivery, verifies the decision attached
// and opens the payload.
func (w *world) delivery(id string) (*decision.Record, []byte) {
	w.t.Helper()
	m := w.next(bus.StreamOut, bus.InboxConsumer(id))
	rec, err := decision.Verify(w.dir.Broker.SigningPublicKey(), []byte(m.Headers().Get(bus.HeaderDecision)), m.Headers().Get(bus.HeaderSignature))
	if err != nil {
		w.t.Fatalf("delivery to %s: %v", id, err)
	}
	env, err := envelope.Parse(m.Data(), 0)
	if err != nil {
		w.t.Fatal(err)
	}
	sender, ok := w.dir.Lookup(env.Header.From)
	if !ok {
		w.t.Fatalf("delivery to %s from unknown %s", id, env.Header.From)
	}
	if err := env.Verify(sender.SigningPublicKey()); err != nil {
		w.t.Fatal(err)
	}
	payload, err := env.OpenPayload(w.parties[id].age)
	if err != nil {
		w.t.Fatal(err)
	}
	return rec, payload
}

// stored returns how many messages a stream holds on a subject: deliveries
// or receipts not yet taken, or inbound messages not yet acknowledged.
func (w *world) stored(stream, subject string) uint64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := w.js.Stream(ctx, stream)
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		w.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func concern(pseudonym string) map[string]any {
	return map[string]any{
		"category":    "concern",
		"subject":     map[string]any{"pseudonym": pseudonym, "birth_date": "2012-03-04"},
		"purpose":     "orosanmälan",
		"sender_role": "mentor",
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var errAuditDown = errors.New("audit stream refuses records")

// checkInputs returns a policy.Config.Observe that checks every input the
// broker builds against policies/input.schema.json: it must match, or be
// denied for a problem with the input itself. The checks run when the
// test ends, since Observe is called from the broker's workers.
func checkInputs(t *testing.T, policies string) func(map[string]any, policy.Decision) {
	t.Helper()
	schema, err := inputschema.Load(policies)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var errs []error
	n := 0
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, err := range errs {
			t.Errorf("an input the broker built: %v", err)
		}
		t.Logf("%d policy inputs checked against %s", n, inputschema.File)
	})
	return func(input map[string]any, d policy.Decision) {
		err := schema.CheckDecision(input, d.Allow, d.Reasons)
		mu.Lock()
		defer mu.Unlock()
		n++
		if err != nil {
			errs = append(errs, err)
		}
	}
}
