package agency_test

import (
	"context"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestResendAfterRestartGetsTheDecision: sending an envelope again is safe,
// as the SDK promises. A resend of an envelope that was already decided gets
// that decision's receipt back, within the inbound stream's duplicate window
// and across a broker restart, never a replay refusal, and the recipient gets
// it once.
func TestResendAfterRestartGetsTheDecision(t *testing.T) {
	w := newWorld(t)
	sch := w.dial(school)
	pn, bd := w.child(school)
	claims := agency.Claims{Category: "concern", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd},
		Purpose: "orosanmälan", SenderRole: "mentor"}
	raw, id, err := sch.Seal(agency.Message{To: social, Kind: agency.KindConcernReport, Metadata: claims,
		Payload: []byte("Eleven berättar om bråk hemma.")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Publish(ctxT(t), raw, id); err != nil {
		t.Fatal(err)
	}
	first, err := sch.Receipt(ctxT(t), id)
	if err != nil {
		t.Fatalf("first send: %v", err)
	}

	// The same envelope again, at once: the inbound stream's duplicate window.
	if err := sch.Publish(ctxT(t), raw, id); err != nil {
		t.Fatal(err)
	}
	again, err := sch.Receipt(ctxT(t), id)
	if err != nil || again.DecisionID != first.DecisionID {
		t.Fatalf("resend within the duplicate window: receipt %+v, %v; want decision %s", again, err, first.DecisionID)
	}

	// And after a restart of the broker.
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
	defer cancel()
	if err := w.svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	w.svc = w.dep.Start(t, nil)
	sch2 := w.dial(school)
	if err := sch2.Publish(ctxT(t), raw, id); err != nil {
		t.Fatal(err)
	}
	after, err := sch2.Receipt(ctxT(t), id)
	if err != nil || after.DecisionID != first.DecisionID {
		t.Fatalf("resend after a broker restart: receipt %+v, %v; want decision %s", after, err, first.DecisionID)
	}

	// Delivered once.
	soc := w.dial(social)
	d, err := soc.Next(ctxT(t))
	if err != nil || d.ID != id {
		t.Fatalf("delivery: %+v %v", d, err)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if d, err := soc.Next(short); err == nil {
		t.Fatalf("delivered twice: %s", d.ID)
	}
}
