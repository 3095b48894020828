package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// newWorldWith is newWorld with a broker configured by mod.
func newWorldWith(t *testing.T, mod func(*service.Config)) *world {
	t.Helper()
	w := provisionWorld(t)
	w.startWith(mod)
	t.Cleanup(w.stop)
	return w
}

// startWith starts the broker as w.start does, configured by mod.
func (w *world) startWith(mod func(*service.Config)) {
	w.t.Helper()
	cfg := w.dep.Config(w.t)
	cfg.NATSListen, cfg.ReloadInterval = w.listen, 100*time.Millisecond
	mod(&cfg)
	svc, err := service.Start(context.Background(), cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.svc = svc
}

// TestStreamsCarryLimits: every stream and bucket of the broker and the
// audit log is created with the configured limits, and refuses new messages
// when full.
func TestStreamsCarryLimits(t *testing.T) {
	set := limits.Streams{
		In:               limits.Stream{MaxBytes: 64 << 20, MaxMsgs: 1001, MaxMsgSize: 3 << 20, MaxMsgsPerAgency: 101},
		Out:              limits.Stream{MaxBytes: 65 << 20, MaxMsgs: 1002, MaxMsgSize: 3<<20 + 1, MaxMsgsPerAgency: 102},
		Receipts:         limits.Stream{MaxBytes: 66 << 20, MaxMsgs: 1003, MaxMsgSize: 1 << 20},
		Seen:             limits.Stream{MaxBytes: 67 << 20, MaxMsgs: 1004, MaxMsgSize: 1 << 10},
		Audit:            limits.Stream{MaxBytes: 68 << 20, MaxMsgs: 1005, MaxMsgSize: 3 << 20},
		AuditCheckpoints: limits.Stream{MaxBytes: 69 << 20, MaxMsgs: 1006, MaxMsgSize: 1 << 16},
		AuditKeys:        limits.Stream{MaxBytes: 70 << 20, MaxMsgs: 1007, MaxMsgSize: 1 << 16},
		Consent:          limits.Stream{MaxBytes: 71 << 20, MaxMsgs: 1008, MaxMsgSize: 1 << 16},
	}
	w := newWorldWith(t, func(c *service.Config) { c.Limits = set })
	js := brokerJetStream(t, w)
	ctx, cancel := ctxT()
	defer cancel()
	// A decision seals its personal fields, which makes the period's key stream.
	if _, err := w.dial(school, nil).Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-1"), Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stream    string
		want      limits.Stream
		perAgency int64
	}{
		{bus.StreamIn, set.In, 101},
		{bus.StreamOut, set.Out, 102},
		{bus.StreamReceipts, set.Receipts, -1},
		{bus.StreamAudit, set.Audit, -1},
		{bus.StreamAuditCheckpoints, set.AuditCheckpoints, -1},
		{bus.AuditKeysStream(audit.Period(time.Now())), set.AuditKeys, 1},
		{"KV_" + consent.Bucket, set.Consent, 16},
	} {
		st, err := js.Stream(ctx, c.stream)
		if err != nil {
			t.Fatalf("%s: %v", c.stream, err)
		}
		got := st.CachedInfo().Config
		if got.MaxBytes != c.want.MaxBytes || got.MaxMsgs != c.want.MaxMsgs || got.MaxMsgSize != c.want.MaxMsgSize ||
			got.MaxMsgsPerSubject != c.perAgency || got.Discard != jetstream.DiscardNew {
			t.Errorf("%s: limits %d bytes, %d msgs, %d a message, %d a subject, discard %v; want %+v (%d a subject) and DiscardNew",
				c.stream, got.MaxBytes, got.MaxMsgs, got.MaxMsgSize, got.MaxMsgsPerSubject, got.Discard, c.want, c.perAgency)
		}
	}
}

// TestAgencyRateLimit: an agency that floods past its burst gets a
// rate_limited receipt for each message over it, while another agency's
// messages are delivered; every message gets exactly one receipt and one
// audit record.
func TestAgencyRateLimit(t *testing.T) {
	const burst, flood, calm = 3, 12, 3
	// One token per thousand seconds: after its burst, the flooding agency
	// gets none back during the test, whatever the machine's speed.
	w := newWorldWith(t, func(c *service.Config) { c.AgencyRate, c.AgencyBurst = 0.001, burst })
	sch, ind, soc := w.dial(school, nil), w.dial(indep, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()

	send := func(c *agency.Client, n int, pseudonym string) map[string]bool {
		ids := map[string]bool{}
		for range n {
			id, err := c.Send(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern(pseudonym), Payload: []byte("x")})
			if err != nil {
				t.Fatal(err)
			}
			ids[id] = true
		}
		return ids
	}
	floodIDs := send(sch, flood, "elev-1")
	calmIDs := send(ind, calm, "elev-2")

	receipts := func(c *agency.Client, ids map[string]bool) map[string]*decision.Record {
		got := map[string]*decision.Record{}
		for len(got) < len(ids) {
			r, err := c.NextReceipt(ctx)
			if err != nil {
				t.Fatalf("after %d of %d receipts: %v\n%s", len(got), len(ids), err, streamState(w))
			}
			if !ids[r.MessageID] || got[r.MessageID] != nil {
				t.Fatalf("receipt for %s: not sent, or a second receipt", r.MessageID)
			}
			got[r.MessageID] = r
		}
		return got
	}
	delivered := 0
	for _, r := range receipts(sch, floodIDs) {
		switch {
		case r.Allowed():
			delivered++
		case r.ErrorCode == errcode.RateLimited:
			if len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0], "send it again") || r.Rule != "" {
				t.Errorf("rate_limited receipt %+v: want one reason saying when to send again", r)
			}
		default:
			t.Errorf("flood message %s: code %q, reasons %q", r.MessageID, r.ErrorCode, r.Reasons)
		}
	}
	if delivered != burst {
		t.Errorf("%d of the flooding agency's messages were delivered, want its burst %d", delivered, burst)
	}
	for _, r := range receipts(ind, calmIDs) {
		if !r.Allowed() {
			t.Errorf("the other agency's message %s was refused: %q %q", r.MessageID, r.ErrorCode, r.Reasons)
		}
	}
	for range burst + calm {
		d, err := soc.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	nothingArrives(t, soc)

	limited := 0
	for _, r := range auditRecords(t, w) {
		if r.ErrorCode == errcode.RateLimited {
			limited++
		}
	}
	if limited != flood-burst {
		t.Errorf("audit log holds %d rate_limited records, want %d", limited, flood-burst)
	}
	rej := w.svc.Metrics.Rejections
	if got := testutil.ToFloat64(rej.WithLabelValues(errcode.RateLimited, school)); got != flood-burst {
		t.Errorf("sekretess_rejections_total{code=rate_limited,sender=%s} = %v, want %d", school, got, flood-burst)
	}
	if got := testutil.ToFloat64(rej.WithLabelValues(errcode.RateLimited, indep)); got != 0 {
		t.Errorf("sekretess_rejections_total{code=rate_limited,sender=%s} = %v, want 0", indep, got)
	}
}

// captureHandler writes log records as text to a buffer and hands each
// record whose message starts with match to a channel, so a test can wait
// for one.
type captureHandler struct {
	slog.Handler
	match  string
	mu     *sync.Mutex
	buf    *bytes.Buffer
	events chan slog.Record
}

func newCapture(match string) *captureHandler {
	h := &captureHandler{match: match, mu: &sync.Mutex{}, buf: &bytes.Buffer{}, events: make(chan slog.Record, 64)}
	h.Handler = slog.NewTextHandler(lockedWriter{h}, &slog.HandlerOptions{Level: slog.LevelInfo})
	return h
}

type lockedWriter struct{ h *captureHandler }

func (l lockedWriter) Write(p []byte) (int, error) {
	l.h.mu.Lock()
	defer l.h.mu.Unlock()
	return l.h.buf.Write(p)
}

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, h.match) {
		select {
		case h.events <- r.Clone():
		default:
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithAttrs(as)
	return &c
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
}

func (h *captureHandler) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.String()
}

// next waits for the next matching record and returns its attributes.
func (h *captureHandler) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case r := <-h.events:
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		return attrs
	case <-time.After(timeout):
		t.Fatalf("no %q logged; log:\n%s", h.match, h.text())
		return nil
	}
}

// TestSecurityEvents: an agency publishing on another agency's subject, and
// a client with a key the directory does not know, each produce one log
// record naming the agency, and a count.
func TestSecurityEvents(t *testing.T) {
	logs := newCapture("security event")
	w := newWorldWith(t, func(c *service.Config) { c.Logger = slog.New(logs) })
	events := w.svc.Metrics.SecurityEvents

	// The school publishes as social services, payload and all.
	nc := w.rawConn(school)
	errs := make(chan error, 1)
	nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	})
	if err := nc.Publish(bus.In(social), []byte("elev-4711 berättar om våld i hemmet")); err != nil {
		t.Fatal(err)
	}
	ev := logs.next(t)
	if ev["kind"] != metrics.SecurityPermissionViolation || ev["agency"] != school || ev["op"] != "publish" || ev["subject"] != bus.In(social) {
		t.Fatalf("security event %v, want a publish violation by %s on %s", ev, school, bus.In(social))
	}
	if got := testutil.ToFloat64(events.WithLabelValues(metrics.SecurityPermissionViolation, school)); got != 1 {
		t.Errorf("sekretess_security_events_total{kind=permission_violation,agency=%s} = %v, want 1", school, got)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "Permissions Violation") {
			t.Errorf("the client was told %v", err)
		}
	case <-time.After(timeout):
		t.Error("the client was not told of the violation")
	}

	// Reading another agency's inbox is a violation too.
	if _, err := nc.Subscribe(bus.Out(social), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if ev := logs.next(t); ev["kind"] != metrics.SecurityPermissionViolation || ev["agency"] != school || ev["op"] != "subscription" {
		t.Fatalf("security event %v, want a subscription violation by %s", ev, school)
	}

	// A key the directory does not hold.
	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := stranger.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := nats.Connect("nats://"+w.listen, nats.Nkey(pub, stranger.Sign), nats.MaxReconnects(0)); err == nil {
		c.Close()
		t.Fatal("a key outside the directory connected")
	}
	if ev := logs.next(t); ev["kind"] != metrics.SecurityAuthFailure || ev["agency"] != "unknown" || ev["nkey"] != pub {
		t.Fatalf("security event %v, want an authentication failure of an unknown key %s", ev, pub)
	}
	if got := testutil.ToFloat64(events.WithLabelValues(metrics.SecurityAuthFailure, "unknown")); got != 1 {
		t.Errorf("sekretess_security_events_total{kind=auth_failure,agency=unknown} = %v, want 1", got)
	}

	if text := logs.text(); strings.Contains(text, "elev-4711") || strings.Contains(text, "våld") {
		t.Errorf("the log holds the message's content:\n%s", text)
	}
}

// TestAuditLimitHoldsBack: a full audit log, at its configured limit,
// refuses the next record, and the broker holds that message back without
// deciding it; restarted with a higher limit, the broker delivers it. No
// record is dropped to make room.
func TestAuditLimitHoldsBack(t *testing.T) {
	logs := newCapture("broker: audit append failed")
	w := newWorldWith(t, func(c *service.Config) {
		c.Limits.Audit.MaxMsgs = 1
		c.Logger = slog.New(logs)
	})
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()
	first, err := sch.Send(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-1"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := sch.Receipt(ctx, first); err != nil || !r.Allowed() {
		t.Fatalf("first message: %+v %v", r, err)
	}
	second, err := sch.Send(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-2"), Payload: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	logs.next(t)
	if testutil.ToFloat64(w.svc.Metrics.AuditBlocked) != 1 || w.svc.Health() == nil {
		t.Fatalf("audit log full, but blocked = %v and health %v", testutil.ToFloat64(w.svc.Metrics.AuditBlocked), w.svc.Health())
	}

	w.stop()
	w.startWith(func(c *service.Config) { c.Limits.Audit.MaxMsgs = 10 })
	for _, want := range []string{first, second} {
		d, err := soc.Next(ctx)
		if err != nil || d.ID != want {
			t.Fatalf("delivery %v, want %s: %v", d, want, err)
		}
		d.Ack()
	}
	if r, err := sch.Receipt(ctx, second); err != nil || !r.Allowed() {
		t.Fatalf("held-back message: %+v %v", r, err)
	}
	ids := map[string]int{}
	for _, r := range auditRecords(t, w) {
		ids[r.MessageID]++
	}
	if len(ids) != 2 || ids[first] != 1 || ids[second] != 1 {
		t.Fatalf("audit records per message %v, want one each of %s and %s", ids, first, second)
	}
}
