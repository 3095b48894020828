package service_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestNoClaimTextInClear sends messages whose claims hold personal data in
// every field a rule reads, and finds it in no receipt and nowhere in the
// audit stream: only the sealed personal part may hold it, and that is
// encrypted. The record and the receipt are kept in clear and cannot be
// shredded.
func TestNoClaimTextInClear(t *testing.T) {
	w := newWorld(t)
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()
	const person = "Kalle Karlsson 20120304-2385"
	n := 0
	marker := func() string { n++; return fmt.Sprintf("MARKER-%d-%s", n, person) }

	// A report of concern that is delivered: the purpose and role are the
	// sender's text.
	allowed := concern(marker())
	allowed["purpose"], allowed["sender_role"] = marker(), marker()
	// A disclosure that every rule denies, with text in every field the
	// rules quote or check, including a field's name.
	denied := map[string]any{
		"category": marker(), "purpose": marker(), "purpose_code": marker(), "sender_role": marker(),
		"legal_basis_claimed": marker(), "consent_ref": marker(), "forwarded_from": []any{marker()},
		"subject":             map[string]any{"pseudonym": marker(), "birth_date": marker(), marker(): "x"},
		"interest_assessment": map[string]any{"by": marker(), "at": marker(), "outcome": marker()},
		"offence":             map[string]any{"section": marker(), "class": marker()},
	}
	// A forward list the broker refuses before the policy.
	refused := map[string]any{"category": "pupil_welfare", "forwarded_from": []any{map[string]any{"id": marker()}}}

	var receipts []*decision.Record
	for _, m := range []agency.Message{
		{To: social, Kind: agency.KindConcernReport, Metadata: allowed, Payload: []byte("rapport")},
		{To: police, Kind: agency.KindDisclosure, Metadata: denied, Payload: []byte("uppgifter")},
		{To: police, Kind: agency.KindDisclosure, Metadata: refused, Payload: []byte("uppgifter")},
	} {
		r, err := sch.Deliver(ctx, m)
		var rej *agency.RejectedError
		if errors.As(err, &rej) {
			r, err = rej.Receipt, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, r)
	}
	if !receipts[0].Allowed() || receipts[0].Rule != "R-CONCERN" {
		t.Fatalf("report of concern: %+v", receipts[0])
	}
	if receipts[1].Allowed() || receipts[1].ErrorCode != "" || len(receipts[1].Reasons) < 10 {
		t.Fatalf("disclosure with an unknown category: %+v", receipts[1])
	}
	if receipts[2].ErrorCode != errcode.BadMetadata || !strings.Contains(receipts[2].Reasons[0], "claims.forwarded_from") {
		t.Fatalf("disclosure with a bad forward list: %+v", receipts[2])
	}
	d, err := soc.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Ack()

	leaks := func(b []byte) bool {
		return strings.Contains(string(b), "MARKER-") || strings.Contains(string(b), "Kalle Karlsson") || strings.Contains(string(b), "20120304-2385")
	}
	for _, r := range receipts {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if leaks(b) {
			t.Errorf("receipt holds claim text: %s", b)
		}
	}
	records := auditRecords(t, w) // verifies the log and its checkpoints
	ex, err := audit.ReadStream(ctx, brokerJetStream(t, w))
	if err != nil {
		t.Fatal(err)
	}
	sealed := 0
	for _, r := range ex.Records {
		if leaks(r.Data) {
			t.Errorf("audit record %d holds claim text: %s", r.Seq, r.Data)
		}
		if e, err := audit.ParseEntry(r.Data); err == nil && e.Personal != nil {
			sealed++
		}
	}
	if len(records) < len(receipts) || sealed < 2 {
		t.Fatalf("%d audit records, %d with a sealed part, for %d messages", len(records), sealed, len(receipts))
	}
	// The pseudonym is in the sealed part, for the auditors.
	if p := auditPersonal(t, w, receipts[0].MessageID); !strings.Contains(p.Pseudonym, person) {
		t.Fatalf("sealed part of the report of concern = %+v", p)
	}
}
