package broker_test

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
)

// TestAllowedConcernReport: an allowed message is recorded, then delivered
// with the recorded decision, then receipted with the same decision.
func TestAllowedConcernReport(t *testing.T) {
	gate := make(chan struct{})
	w := newWorld(t, func(f *fakeAudit) { f.gate, f.entered = gate, make(chan struct{}, 1) })
	raw, id := w.seal(school, social, "concern_report", concern("elev-4711"), "Eleven berättar om våld i hemmet.")
	// A failure below must not leave the broker's worker held at shutdown.
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	seq := w.publish(school, raw)

	// While the record is being stored, nothing is delivered or receipted.
	select {
	case <-w.audit.entered:
	case <-time.After(timeout):
		t.Fatal("the pipeline made no audit append")
	}
	if out, rc := w.stored(bus.StreamOut, bus.Out(social)), w.stored(bus.StreamReceipts, bus.Receipt(school)); out+rc != 0 {
		t.Fatalf("%d deliveries and %d receipts before the decision was recorded", out, rc)
	}
	release()
	a := w.audit.nextAttempt(t)
	if a.err != nil || a.rec.MessageID != id || a.rec.InboundSeq != seq || a.rec.EnvelopeSHA256 != sha256Hex(raw) {
		t.Fatalf("appended %+v, %v", a.rec, a.err)
	}
	r := w.receipt(school)
	d, payload := w.delivery(social)
	if r.DecisionID != a.rec.DecisionID || d.DecisionID != a.rec.DecisionID {
		t.Fatalf("receipt %s and delivery %s do not carry the recorded decision %s", r.DecisionID, d.DecisionID, a.rec.DecisionID)
	}
	if !r.Allowed() || r.Rule != "R-CONCERN" || r.Basis == "" || r.Sender != school || r.Recipient != social ||
		r.Kind != "concern_report" || r.Category != "concern" || r.PolicyRevision == "" || r.InputSHA256 == "" || r.ErrorCode != "" {
		t.Fatalf("receipt = %+v", r)
	}
	if string(payload) != "Eleven berättar om våld i hemmet." {
		t.Fatalf("payload = %q", payload)
	}
	// The record carries no personal data in clear.
	if strings.Contains(a.rec.Category+strings.Join(a.rec.Reasons, " "), "elev-4711") {
		t.Fatalf("the decision record names the pupil: %+v", a.rec)
	}
	if got := testutil.ToFloat64(w.metrics.Decisions.WithLabelValues(decision.Delivered, "R-CONCERN")); got != 1 {
		t.Fatalf("decisions{delivered,R-CONCERN} = %v", got)
	}
	checkMetricLabels(t, w)
}

// TestDeniedDisclosure: a disclosure without a legal basis is recorded and
// rejected with the policy's reasons; nothing reaches the recipient.
func TestDeniedDisclosure(t *testing.T) {
	w := newWorld(t, nil)
	raw, id := w.seal(school, police, "disclosure",
		map[string]any{"category": "health", "subject": map[string]any{"pseudonym": "elev-4711", "age": 13}}, "Elevhälsans journal")
	w.publish(school, raw)

	a := w.audit.nextAttempt(t)
	r := w.receipt(school)
	if r.DecisionID != a.rec.DecisionID || r.MessageID != id {
		t.Fatalf("receipt %+v is not the recorded decision %+v", r, a.rec)
	}
	if r.Allowed() || r.Outcome != decision.Rejected || r.ErrorCode != "" || r.Rule != "" || len(r.Reasons) == 0 || r.PolicyRevision == "" {
		t.Fatalf("receipt = %+v", r)
	}
	if n := w.stored(bus.StreamOut, bus.Out(police)); n != 0 {
		t.Fatalf("%d deliveries to the police", n)
	}
	if got := testutil.ToFloat64(w.metrics.Rejections.WithLabelValues("policy", school)); got != 1 {
		t.Fatalf("rejections{policy} = %v", got)
	}
	checkMetricLabels(t, w)
}

// TestRedeliveryAnsweredFromRecord: an inbound message whose decision the
// audit log already holds (it was recorded before a crash) is finished with
// that decision, not decided again.
func TestRedeliveryAnsweredFromRecord(t *testing.T) {
	var raw []byte
	var id string
	// The first message on a fresh inbound stream has sequence 1.
	earlier := &decision.Record{DecisionID: "decided-before-the-crash", InboundSeq: 1, Outcome: decision.Delivered,
		Rule: "R-CONCERN", Kind: "concern_report", Sender: school, Recipient: social, DecidedAt: time.Now().UTC()}
	w := newWorld(t, func(f *fakeAudit) { f.earlier[1] = earlier })
	raw, id = w.seal(school, social, "concern_report", concern("elev-4711"), "Eleven berättar om våld i hemmet.")
	earlier.MessageID, earlier.EnvelopeSHA256 = id, sha256Hex(raw)
	if seq := w.publish(school, raw); seq != 1 {
		t.Fatalf("inbound sequence %d, want 1", seq)
	}
	r := w.receipt(school)
	d, _ := w.delivery(social)
	if r.DecisionID != earlier.DecisionID || d.DecisionID != earlier.DecisionID {
		t.Fatalf("receipt %s, delivery %s; want the recorded decision %s", r.DecisionID, d.DecisionID, earlier.DecisionID)
	}
	// Finished without a new decision: nothing appended, nothing evaluated.
	select {
	case a := <-w.audit.attempts:
		t.Fatalf("decided again: appended %+v", a.rec)
	default:
	}
	if r.InputSHA256 != "" || r.PolicyRevision != "" {
		t.Fatalf("the receipt holds a fresh evaluation: %+v", r)
	}
	if got := testutil.ToFloat64(w.metrics.Redeliveries); got != 1 {
		t.Fatalf("redeliveries = %v", got)
	}
	if got := testutil.CollectAndCount(w.metrics.Decisions); got != 0 {
		t.Fatalf("%d decision series counted for a redelivery", got)
	}

	// A record under the same sequence for another envelope is not this
	// message's decision (the inbound stream was recreated): it is decided.
	raw2, id2 := w.seal(school, social, "concern_report", concern("elev-4712"), "Ny anmälan.")
	w.audit.mu.Lock()
	w.audit.earlier[2] = &decision.Record{DecisionID: "of-another-envelope", InboundSeq: 2, Outcome: decision.Rejected,
		EnvelopeSHA256: strings.Repeat("0", 64)}
	w.audit.mu.Unlock()
	if seq := w.publish(school, raw2); seq != 2 {
		t.Fatalf("inbound sequence %d, want 2", seq)
	}
	a := w.audit.nextAttempt(t)
	r = w.receipt(school)
	if a.rec.MessageID != id2 || r.DecisionID != a.rec.DecisionID || !r.Allowed() {
		t.Fatalf("second message: appended %+v, receipt %+v", a.rec, r)
	}
}

// TestAuditRefusedNoDeliveryNoAck: while the audit log refuses records,
// nothing is delivered, receipted or acknowledged; the message stays in the
// inbound stream and is decided once the log takes records again.
func TestAuditRefusedNoDeliveryNoAck(t *testing.T) {
	w := newWorld(t, func(f *fakeAudit) { f.refuse = errAuditDown })
	raw, id := w.seal(school, social, "concern_report", concern("elev-4711"), "Eleven berättar om våld i hemmet.")
	w.publish(school, raw)

	if a := w.audit.nextAttempt(t); a.err == nil || a.rec.MessageID != id {
		t.Fatalf("first append: %+v, %v", a.rec, a.err)
	}
	if n := w.stored(bus.StreamOut, bus.Out(social)); n != 0 {
		t.Fatalf("delivered without an audit record (%d)", n)
	}
	if n := w.stored(bus.StreamReceipts, bus.Receipt(school)); n != 0 {
		t.Fatalf("receipted without an audit record (%d)", n)
	}
	if n := w.stored(bus.StreamIn, bus.In(school)); n != 1 {
		t.Fatalf("inbound message acknowledged without an audit record (%d left)", n)
	}
	// Not acknowledged, so JetStream hands it out again: a second refused
	// append, after which the first one's metrics are surely set.
	if a := w.audit.nextAttempt(t); a.err == nil || a.rec.MessageID != id {
		t.Fatalf("second append: %+v, %v", a.rec, a.err)
	}
	if testutil.ToFloat64(w.metrics.AuditFailures) < 1 || testutil.ToFloat64(w.metrics.AuditBlocked) != 1 {
		t.Fatalf("audit failures %v, blocked %v", testutil.ToFloat64(w.metrics.AuditFailures), testutil.ToFloat64(w.metrics.AuditBlocked))
	}

	// The log recovers: JetStream hands the message out again and it goes
	// through, once.
	w.audit.setRefuse(nil)
	var a attempt
	for a = w.audit.nextAttempt(t); a.err != nil; a = w.audit.nextAttempt(t) {
	}
	r := w.receipt(school)
	d, _ := w.delivery(social)
	if a.rec.MessageID != id || r.DecisionID != a.rec.DecisionID || d.DecisionID != a.rec.DecisionID {
		t.Fatalf("after recovery: appended %+v, receipt %+v, delivery %+v", a.rec, r, d)
	}
	if len(w.audit.records()) != 1 || testutil.ToFloat64(w.metrics.AuditBlocked) != 0 {
		t.Fatalf("records %d, blocked %v", len(w.audit.records()), testutil.ToFloat64(w.metrics.AuditBlocked))
	}
}

// TestUnknownParties: unknown senders and recipients are recorded and
// refused with their codes; a sender that is not the publisher too. A
// receipt goes only to a sender in the directory.
func TestUnknownParties(t *testing.T) {
	w := newWorld(t, nil)

	// An agency the directory does not know publishes on its own subject.
	stranger := newParty(t)
	raw, id := w.sealAs(stranger, "okand-skola", social, "concern_report", concern("elev-1"), "x")
	w.publish("okand-skola", raw)
	a := w.audit.nextAttempt(t)
	if a.rec.Allowed() || a.rec.ErrorCode != codeUnknownSender || a.rec.MessageID != id || len(a.rec.Reasons) == 0 {
		t.Fatalf("unknown sender: recorded %+v", a.rec)
	}

	// A known sender writes to an agency the directory does not know.
	raw, id = w.seal(school, "okand-myndighet", "disclosure", concern("elev-2"), "x")
	w.publish(school, raw)
	a = w.audit.nextAttempt(t)
	r := w.receipt(school)
	if r.DecisionID != a.rec.DecisionID || r.Allowed() || r.ErrorCode != codeUnknownRecipient || r.MessageID != id ||
		!strings.Contains(r.Reasons[0], "okand-myndighet") {
		t.Fatalf("unknown recipient: recorded %+v, receipt %+v", a.rec, r)
	}

	// The police publish an envelope that says it is from the school.
	raw, _ = w.seal(school, social, "concern_report", concern("elev-3"), "x")
	w.publish(police, raw)
	a = w.audit.nextAttempt(t)
	r = w.receipt(police)
	if r.DecisionID != a.rec.DecisionID || r.ErrorCode != codeSenderMismatch || r.Sender != police {
		t.Fatalf("sender mismatch: receipt %+v", r)
	}

	// The unknown sender got no receipt, and nobody got a delivery: the
	// receipts above arrived after its record, so its turn has passed.
	if n := w.stored(bus.StreamReceipts, bus.Receipt("okand-skola")); n != 0 {
		t.Fatalf("%d receipts for an unknown sender", n)
	}
	if n := w.stored(bus.StreamOut, bus.Out(social)); n != 0 {
		t.Fatalf("%d deliveries", n)
	}
	checkMetricLabels(t, w)
}

// TestMalformedEnvelope: bytes that are no envelope are recorded and
// refused with the envelope's error code; the receipt goes to the agency
// whose subject they came on, since no header names a sender.
func TestMalformedEnvelope(t *testing.T) {
	w := newWorld(t, nil)
	raw, _ := w.seal(school, social, "concern_report", concern("elev-4711"), "x")
	for _, bad := range [][]byte{raw[:len(raw)/2], []byte("not an envelope")} {
		w.publish(school, bad)
		a := w.audit.nextAttempt(t)
		r := w.receipt(school)
		if r.DecisionID != a.rec.DecisionID || r.Allowed() || r.ErrorCode == "" || r.MessageID != "" || r.Sender != school ||
			r.EnvelopeSHA256 != sha256Hex(bad) || len(r.Reasons) == 0 {
			t.Fatalf("malformed envelope: receipt %+v", r)
		}
	}
	if n := w.stored(bus.StreamOut, bus.Out(social)); n != 0 {
		t.Fatalf("%d deliveries", n)
	}
}

// TestReplay: the same envelope published again, past JetStream's dedupe,
// is refused as a replay; the first copy is delivered once.
func TestReplay(t *testing.T) {
	w := newWorld(t, nil)
	raw, id := w.seal(school, social, "concern_report", concern("elev-4711"), "Eleven berättar om våld i hemmet.")
	w.publish(school, raw)
	first := w.audit.nextAttempt(t)
	if r := w.receipt(school); !r.Allowed() || r.MessageID != id {
		t.Fatalf("first copy: %+v", r)
	}

	// The very same envelope again is a resend: the first decision's
	// receipt, nothing recorded or delivered again.
	w.publish(school, raw)
	if r := w.receipt(school); r.DecisionID != first.rec.DecisionID || !r.Allowed() {
		t.Fatalf("resend: receipt %+v, want decision %s", r, first.rec.DecisionID)
	}

	// Another envelope under the same id is a replay.
	other, _ := w.sealID(w.parties[school], school, social, "concern_report", concern("elev-4711"), "Något annat.", id)
	w.publish(school, other)
	a := w.audit.nextAttempt(t)
	r := w.receipt(school)
	if r.DecisionID != a.rec.DecisionID || r.Allowed() || r.ErrorCode != codeReplay || r.MessageID != id ||
		!strings.Contains(r.Reasons[0], "already used") {
		t.Fatalf("replay: receipt %+v", r)
	}
	// The first copy and the replay were recorded, under their own inbound
	// sequences; the resend was not.
	recs := w.audit.records()
	if len(recs) != 2 || recs[0].InboundSeq == recs[1].InboundSeq {
		t.Fatalf("records = %+v", recs)
	}
	if n := w.stored(bus.StreamOut, bus.Out(social)); n != 1 {
		t.Fatalf("%d deliveries, want the first copy only", n)
	}
	if got := testutil.ToFloat64(w.metrics.Rejections.WithLabelValues(codeReplay, school)); got != 1 {
		t.Fatalf("rejections{replay} = %v", got)
	}
}

// checkMetricLabels: the metrics of the decisions so far carry only fixed
// codes as label values, never an agency, message id or pseudonym.
func checkMetricLabels(t *testing.T, w *world) {
	t.Helper()
	fixed := regexp.MustCompile(`^(delivered|rejected|none|policy|R-[A-Z0-9-]+|[a-z_]{1,32})$`)
	families, err := w.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "sekretess_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				n++
				v := l.GetValue()
				if l.GetName() == "sender" || l.GetName() == "agency" {
					// An agency's id names an authority or a school, never a person.
					if _, ok := w.dir.Lookup(v); !ok && v != "unknown" {
						t.Errorf("%s{%s=%q}: not an agency of the directory", f.GetName(), l.GetName(), v)
					}
					continue
				}
				personal := strings.Contains(v, "elev-") || slices.ContainsFunc(w.dir.Agencies, func(a directory.Agency) bool {
					return strings.Contains(v, a.ID)
				})
				if !fixed.MatchString(v) || personal {
					t.Errorf("%s{%s=%q}: not a fixed code", f.GetName(), l.GetName(), v)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no labelled metrics after a decision")
	}
}
