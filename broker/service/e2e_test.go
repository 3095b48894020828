package service_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

const (
	police  = "polisen-syd"
	school  = "rosengard-skola"
	indep   = "friskolan-malmo"
	social  = "soc-malmo"
	timeout = 20 * time.Second
)

// freePort reserves a loopback port for the embedded NATS server, so that a
// restarted broker listens where the agencies' clients reconnect.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type world struct {
	t      *testing.T
	dep    *brokertest.Deployment
	data   string
	listen string
	svc    *service.Service
	// auditor can open the audit log's personal fields.
	auditor *age.X25519Identity
	// skew is the broker's clock window; zero is the default.
	skew time.Duration
	// now is the broker's clock; nil is time.Now.
	now func() time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := provisionWorld(t)
	w.start()
	t.Cleanup(func() { w.stop() })
	return w
}

// provisionWorld provisions the world's data directory: the demo agencies,
// an independent school with X25519 keys, their keys inside the data
// directory, and an auditor.
func provisionWorld(t *testing.T) *world {
	t.Helper()
	indepSpec := provision.AgencySpec{ID: indep, Kind: directory.KindSchool, Operator: directory.OperatorIndependent, Name: "Friskolan", X25519: true}
	dep := brokertest.NewDeployment(t, brokertest.Options{
		Agencies:   append(append(brokertest.DemoAgencies(police, school), indepSpec), brokertest.DemoAgencies(social)...),
		KeysInData: true, Auditor: true,
	})
	return &world{t: t, dep: dep, data: dep.Data, listen: freePort(t), auditor: dep.Auditor}
}

func (w *world) start() {
	w.t.Helper()
	cfg := w.dep.Config(w.t)
	cfg.NATSListen, cfg.HTTPAddr = w.listen, "127.0.0.1:0"
	cfg.ReloadInterval, cfg.ClockSkew, cfg.Now = 100*time.Millisecond, w.skew, w.now
	svc, err := service.Start(context.Background(), cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.svc = svc
}

func (w *world) stop() {
	if w.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := w.svc.Shutdown(ctx); err != nil {
		w.t.Errorf("shutdown: %v", err)
	}
	w.svc = nil
}

func (w *world) directory() *directory.Directory {
	d, err := directory.Load(layout.Directory(w.data))
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *world) dial(id string, d *directory.Directory) *agency.Client {
	w.t.Helper()
	ident, err := agency.LoadIdentity(layout.AgencyKeys(w.data, id), id)
	if err != nil {
		w.t.Fatal(err)
	}
	if d == nil {
		d = w.directory()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := agency.Dial(ctx, agency.Config{URL: "nats://" + w.listen, Identity: ident, Directory: d})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { c.Close() })
	return c
}

func concern(pseudonym string) map[string]any {
	return map[string]any{
		"category":    "concern",
		"subject":     map[string]any{"pseudonym": pseudonym, "birth_date": "2012-03-04"},
		"purpose":     "orosanmälan",
		"sender_role": "mentor",
	}
}

func ctxT() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), timeout)
}

// auditRecords reads the audit log from its stream after a fresh checkpoint,
// verifies the tree and every checkpoint with the broker's public audit key,
// and checks that each inbound message was recorded once.
func auditRecords(t *testing.T, w *world) []*decision.Record {
	t.Helper()
	ctx, cancel := ctxT()
	defer cancel()
	if _, err := w.svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	js := brokerJetStream(t, w)
	ex, err := audit.ReadStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	v, err := keys.AuditKeyHistory(layout.BrokerKeys(w.data))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ex, v)
	if err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
	if rep.Uncovered != 0 || rep.Records != int64(len(ex.Records)) {
		t.Fatalf("audit report = %+v for %d records", rep, len(ex.Records))
	}
	var recs []*decision.Record
	inbound := map[uint64]bool{}
	for _, r := range ex.Records {
		e, err := audit.ParseEntry(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if e.Decision.Outcome == decision.KeyEvent {
			recs = append(recs, &e.Decision)
			continue
		}
		if inbound[e.Decision.InboundSeq] {
			t.Errorf("inbound message %d recorded twice", e.Decision.InboundSeq)
		}
		inbound[e.Decision.InboundSeq] = true
		recs = append(recs, &e.Decision)
	}
	return recs
}

// auditPersonal opens the personal fields of the record of message id with
// the auditor's identity, after checking they are not in the record in clear.
func auditPersonal(t *testing.T, w *world, id string) *audit.Personal {
	t.Helper()
	ctx, cancel := ctxT()
	defer cancel()
	js := brokerJetStream(t, w)
	ex, err := audit.ReadStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ex.Records {
		e, err := audit.ParseEntry(r.Data)
		if err != nil || e.Decision.MessageID != id {
			continue
		}
		if e.Personal == nil || strings.Contains(string(r.Data), "elev-") {
			t.Fatalf("record of %s: personal fields not sealed: %s", id, r.Data)
		}
		p, err := audit.NewOpener(js, w.auditor).Open(ctx, e.Personal, e.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Fatalf("no record of message %s", id)
	return nil
}

func brokerJetStream(t *testing.T, w *world) jetstream.JetStream {
	t.Helper()
	nc, js, err := service.ConnectAsBroker(w.data, "nats://"+w.listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

func nothingArrives(t *testing.T, c *agency.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if d, err := c.Next(ctx); err == nil {
		t.Fatalf("unexpected delivery %s from %s (%s)", d.ID, d.From, d.Kind)
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
}

func TestEndToEnd(t *testing.T) {
	w := newWorld(t)
	sch, soc, pol := w.dial(school, nil), w.dial(social, nil), w.dial(police, nil)
	ctx, cancel := ctxT()
	defer cancel()

	// An allowed concern report reaches social services and decrypts there.
	r, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report",
		Metadata: concern("elev-4711"), Payload: []byte("Eleven berättar om våld i hemmet.")})
	if err != nil {
		t.Fatalf("concern report: %v\n%s", err, streamState(w))
	}
	if r.Rule != "R-CONCERN" || r.Basis == "" || r.PolicyRevision == "" || r.InputSHA256 == "" || r.DecisionID == "" {
		t.Fatalf("receipt = %+v", r)
	}
	d, err := soc.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Payload) != "Eleven berättar om våld i hemmet." || d.From != school || d.Decision.Rule != "R-CONCERN" ||
		d.Decision.DecisionID != r.DecisionID {
		t.Fatalf("delivery = %+v decision %+v", d, d.Decision)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	concernID := d.ID

	// A disclosure without a basis never reaches the police; the school is told why.
	_, err = sch.Deliver(ctx, agency.Message{To: police, Kind: "disclosure",
		Metadata: map[string]any{"category": "health", "subject": map[string]any{"pseudonym": "elev-4711", "age": 13}},
		Payload:  []byte("Elevhälsans journal")})
	var rej *agency.RejectedError
	if !errors.As(err, &rej) || rej.Receipt.ErrorCode != "" || len(rej.Receipt.Reasons) == 0 || rej.Receipt.Rule != "" {
		t.Fatalf("disallowed disclosure: %v", err)
	}
	t.Logf("rejection reasons: %q", rej.Receipt.Reasons)
	nothingArrives(t, pol)

	// Bad input: each rejected with a code, logged, and never delivered.
	raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-1"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), raw...)
	tampered[len(tampered)-1] ^= 0xff
	expectRejected(t, sch, tampered, id, errcode.BadSignature)

	// The original sent again, even past the bus's own dedupe (published
	// without a message id), is a resend: its one decision's receipt again,
	// never a second delivery (a new envelope under a used id is a replay:
	// TestReplay in package broker).
	if err := sch.Publish(ctx, raw, id); err != nil {
		t.Fatal(err)
	}
	orig, err := sch.Receipt(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Publish(ctx, raw, ""); err != nil {
		t.Fatal(err)
	}
	if r, err := sch.Receipt(ctx, id); err != nil || r.DecisionID != orig.DecisionID {
		t.Fatalf("resend: receipt %+v, %v; want decision %s", r, err, orig.DecisionID)
	}
	if d, err := soc.Next(ctx); err != nil || d.ID != id {
		t.Fatalf("first copy: %v", err)
	} else {
		d.Ack()
	}
	nothingArrives(t, soc)

	// A message for an agency the broker does not know, sealed by a client
	// with a stale directory.
	stale := w.directory()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	ai, _ := age.GenerateX25519Identity()
	stale.Agencies = append(stale.Agencies, directory.Agency{ID: "okand-myndighet", Kind: directory.KindPolice, Name: "Okänd",
		SigningKey: keys.FormatSigningPublicKey(pub), AgeRecipient: ai.Recipient().String()})
	b, _ := stale.Marshal()
	staleDir, err := directory.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	schStale := w.dial(school, staleDir)
	raw, id, err = schStale.Seal(agency.Message{To: "okand-myndighet", Kind: "disclosure", Metadata: concern("elev-2"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	expectRejected(t, schStale, raw, id, errcode.UnknownRecipient)

	// A truncated envelope: the header cannot even be read, the receipt still
	// reaches the publisher because its subject names it.
	raw, _, _ = sch.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-3"), Payload: []byte("x")})
	expectRejected(t, sch, raw[:len(raw)/2], "", errcode.Truncated)

	// Everything is in the audit log, whose chain verifies.
	recs := auditRecords(t, w)
	codes := map[string]int{}
	for _, r := range recs {
		codes[r.Outcome+"/"+r.ErrorCode]++
		if r.EnvelopeSHA256 == "" || r.DecisionID == "" {
			t.Errorf("record without hashes: %+v", r)
		}
	}
	want := map[string]int{"delivered/": 2, "rejected/": 1, "rejected/bad_signature": 1,
		"rejected/unknown_recipient": 1, "rejected/truncated": 1}
	if fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Fatalf("audit outcomes = %v, want %v", codes, want)
	}
	if r, ok := findByMessage(recs, concernID); !ok || r.Rule != "R-CONCERN" {
		t.Fatalf("concern not audited: %+v", r)
	}
	// The pseudonym is in the log only sealed, and the auditor can open it.
	if p := auditPersonal(t, w, concernID); p.Pseudonym != "elev-4711" {
		t.Fatalf("personal fields of the concern = %+v", p)
	}

	// Metrics and health are served.
	resp, err := http.Get("http://" + w.svc.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 1<<20)
	n, _ := ioReadFull(resp.Body, body)
	resp.Body.Close()
	if !strings.Contains(string(body[:n]), `sekretess_decisions_total{outcome="delivered",rule="R-CONCERN"} 2`) {
		t.Fatalf("metrics lack the decisions:\n%s", body[:n])
	}
	resp, err = http.Get("http://" + w.svc.HTTPAddr() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func findByMessage(recs []*decision.Record, id string) (*decision.Record, bool) {
	for _, r := range recs {
		if r.MessageID == id {
			return r, true
		}
	}
	return nil, false
}

// expectRejected publishes raw (without a bus message id) and waits for a
// rejection with the given code.
func expectRejected(t *testing.T, c *agency.Client, raw []byte, id, code string) {
	t.Helper()
	ctx, cancel := ctxT()
	defer cancel()
	if err := c.Publish(ctx, raw, ""); err != nil {
		t.Fatal(err)
	}
	var r *decision.Record
	var err error
	if id != "" && code != errcode.Replay {
		r, err = c.Receipt(ctx, id)
	} else {
		r, err = c.NextReceipt(ctx)
	}
	if r == nil {
		t.Fatalf("%s: no receipt: %v", code, err)
	}
	if r.Allowed() || r.ErrorCode != code || len(r.Reasons) == 0 {
		t.Fatalf("%s: receipt = %+v", code, r)
	}
	t.Logf("%s: %s", code, r.Reasons[0])
}

// TestRestartMidStream stops the broker while agencies are sending and starts
// it again on the same data: every message is delivered exactly once and
// decided exactly once, after a clean stop and after a crash.
func TestRestartMidStream(t *testing.T) {
	t.Run("clean", func(t *testing.T) { restartMidStream(t, false) })
	t.Run("crash", func(t *testing.T) { restartMidStream(t, true) })
}

func restartMidStream(t *testing.T, crash bool) {
	w := newWorld(t)
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	const n = 300
	ids := make(chan string, n)
	var published, failed atomic.Int64
	quarter := make(chan struct{}) // closed once a quarter of the messages are published
	done := make(chan struct{})    // closed when the publisher returns
	// The publisher's context bounds it; it is stopped and awaited when the
	// test ends early.
	pctx, cancelPublisher := context.WithTimeout(context.Background(), 2*time.Minute)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancelPublisher(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range n {
			raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report",
				Metadata: concern(fmt.Sprintf("elev-%d", i)), Payload: []byte(fmt.Sprintf("rapport %d", i))})
			if err != nil {
				t.Error(err)
				return
			}
			// Retrying the same id is safe: the inbound stream deduplicates it.
			if poll.Until(pctx, func() bool {
				ctx, cancel := context.WithTimeout(pctx, 2*time.Second)
				defer cancel()
				err = sch.Publish(ctx, raw, id)
				if err != nil {
					failed.Add(1)
				}
				return err == nil
			}) != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			ids <- id
			if published.Add(1) == n/4 {
				close(quarter)
			}
		}
	}()
	select {
	case <-quarter:
	case <-done:
		t.Fatalf("the publisher stopped after %d messages", published.Load())
	}
	if crash {
		w.svc.Crash()
		w.svc = nil
	} else {
		w.stop()
	}
	atStop, failedAtStop := published.Load(), failed.Load()
	// The broker stays down until the sender has felt it (or has nothing
	// left to send).
	downCtx, cancelDown := ctxT()
	if poll.Until(downCtx, func() bool { return failed.Load() > failedAtStop || published.Load() == n }) != nil {
		t.Fatal("no publish failed while the broker was down")
	}
	cancelDown()
	w.start()
	wg.Wait()
	close(ids)

	sent := map[string]bool{}
	for id := range ids {
		sent[id] = true
	}
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(got) < len(sent) {
		d, err := soc.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d deliveries: %v\n%s", len(got), len(sent), err, streamState(w))
		}
		got[d.ID]++
		d.Ack()
	}
	nothingArrives(t, soc)
	t.Logf("broker stopped after %d of %d messages were published; %v redeliveries answered from the audit log",
		atStop, n, testutil.ToFloat64(w.svc.Metrics.Redeliveries))
	for id := range sent {
		if got[id] != 1 {
			t.Errorf("message %s delivered %d times", id, got[id])
		}
	}
	for id := range got {
		if !sent[id] {
			t.Errorf("unexpected delivery %s", id)
		}
	}
	// One receipt per message, one audit record per message.
	receipts := map[string]int{}
	for len(receipts) < len(sent) {
		r, err := sch.NextReceipt(ctx)
		if err != nil {
			t.Fatalf("after %d receipts: %v", len(receipts), err)
		}
		receipts[r.MessageID]++
	}
	perMessage := map[string]int{}
	for _, r := range auditRecords(t, w) {
		perMessage[r.MessageID]++
	}
	for id := range sent {
		if perMessage[id] != 1 {
			t.Errorf("message %s has %d audit records", id, perMessage[id])
		}
	}
}

// TestAuditBackPressure makes the audit stream refuse records: nothing is
// delivered or acknowledged while it does, the metric and /healthz say so,
// and the broker delivers by itself once the stream takes records again.
func TestAuditBackPressure(t *testing.T) {
	w := newWorld(t)
	// A short clock window: a message held back longer than it is still
	// delivered, since its age counts from when the broker accepted it.
	// The broker's clock jumps past the window while the message is held
	// back, so no real time has to pass.
	var ahead atomic.Int64
	w.stop()
	w.skew = 2 * time.Second
	w.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	w.start()
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()
	if _, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report",
		Metadata: concern("elev-1"), Payload: []byte("första")}); err != nil {
		t.Fatal(err)
	}
	if d, err := soc.Next(ctx); err != nil {
		t.Fatal(err)
	} else {
		d.Ack()
	}
	js := brokerJetStream(t, w)
	limit := func(n int64) {
		s, err := js.Stream(ctx, bus.StreamAudit)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		if n == 0 {
			n = int64(s.CachedInfo().State.Msgs) // full now
		}
		cfg.MaxMsgs = n
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	limit(0)
	raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-2"), Payload: []byte("andra")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Publish(ctx, raw, id); err != nil {
		t.Fatal(err)
	}
	if poll.Until(ctx, func() bool { return testutil.ToFloat64(w.svc.Metrics.AuditBlocked) == 1 }) != nil {
		t.Fatal("sekretess_audit_blocked never became 1")
	}
	if w.svc.Health() == nil {
		t.Fatal("healthy while the audit log refuses records")
	}
	nothingArrives(t, soc)
	ahead.Store(int64(2 * w.skew))

	limit(-1)
	d, err := soc.Next(ctx)
	if err != nil || d.ID != id {
		t.Fatalf("after the audit stream recovered: %v", err)
	}
	d.Ack()
	if r, err := sch.Receipt(ctx, id); err != nil || !r.Allowed() {
		t.Fatalf("receipt: %+v %v", r, err)
	}
	if testutil.ToFloat64(w.svc.Metrics.AuditBlocked) != 0 || w.svc.Health() != nil {
		t.Fatalf("still blocked after recovery: %v", w.svc.Health())
	}
	if testutil.ToFloat64(w.svc.Metrics.AuditFailures) == 0 {
		t.Fatal("no failed append counted")
	}
	perMessage := map[string]int{}
	for _, r := range auditRecords(t, w) {
		perMessage[r.MessageID]++
	}
	if perMessage[id] != 1 {
		t.Fatalf("message %s has %d audit records", id, perMessage[id])
	}
}

func ioReadFull(r interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, nil
		}
	}
	return n, nil
}

// TestInboundStreamRecreated: an operator deletes the inbound stream and the
// broker recreates it, so inbound sequences start over. A new message that
// gets an old message's sequence is decided on its own, never answered with
// the old message's decision.
func TestInboundStreamRecreated(t *testing.T) {
	w := newWorld(t)
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()
	first, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-1"), Payload: []byte("första")})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := soc.Next(ctx); err != nil || d.ID != first.MessageID {
		t.Fatalf("first delivery: %v %v", d, err)
	} else {
		d.Ack()
	}
	if err := brokerJetStream(t, w).DeleteStream(ctx, bus.StreamIn); err != nil {
		t.Fatal(err)
	}
	w.stop()
	w.start()
	sch, soc = w.dial(school, nil), w.dial(social, nil)
	second, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-2"), Payload: []byte("andra")})
	if err != nil {
		t.Fatal(err)
	}
	if second.InboundSeq != first.InboundSeq || second.DecisionID == first.DecisionID {
		t.Fatalf("second message: inbound %d (first %d), decision %s (first %s)", second.InboundSeq, first.InboundSeq, second.DecisionID, first.DecisionID)
	}
	d, err := soc.Next(ctx)
	if err != nil || d.ID != second.MessageID || string(d.Payload) != "andra" {
		t.Fatalf("second delivery: %v %v", d, err)
	}
	d.Ack()
}
