package service_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestOversizedAndForeignEnvelopes covers envelopes the broker must refuse
// even though they are well signed: too large, or published by an agency
// other than the one that signed them.
func TestOversizedAndForeignEnvelopes(t *testing.T) {
	w := newWorld(t)
	sch, soc := w.dial(school, nil), w.dial(social, nil)
	ctx, cancel := ctxT()
	defer cancel()

	big := bytes.Repeat([]byte("x"), envelope.DefaultMaxSize+1)
	raw, id, err := sch.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-5"), Payload: big})
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Publish(ctx, raw, id); !errors.Is(err, envelope.ErrTooLarge) {
		t.Fatalf("the SDK published an oversized envelope: %v", err)
	}
	// Published anyway, bypassing the SDK: the broker refuses it and says so.
	nc := w.rawConn(school)
	if err := nc.Publish(bus.In(school), raw); err != nil {
		t.Fatal(err)
	}
	r, err := sch.NextReceipt(ctx)
	if err != nil || r.Allowed() || r.ErrorCode != errcode.TooLarge {
		t.Fatalf("oversized envelope: receipt %+v, %v", r, err)
	}

	// Social services' envelope, replayed by the school on its own subject.
	raw, _, err = soc.Seal(agency.Message{To: police, Kind: "concern_report", Metadata: concern("elev-6"), Payload: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	expectRejected(t, sch, raw, "", errcode.SenderMismatch)
	nothingArrives(t, w.dial(police, nil))
	nothingArrives(t, soc)
}

// rawConn connects with an agency's NATS key but without the SDK.
func (w *world) rawConn(id string) *nats.Conn {
	w.t.Helper()
	opt, err := nats.NkeyOptionFromSeed(filepath.Join(layout.AgencyKeys(w.data, id), keys.NKeyFile))
	if err != nil {
		w.t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+w.listen, opt, nats.CustomInboxPrefix(bus.InboxPrefix(id)))
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(nc.Close)
	return nc
}

// TestAgencyIsolation checks the NATS permissions of the embedded server: an
// agency can publish only as itself and read only its own inbox.
func TestAgencyIsolation(t *testing.T) {
	w := newWorld(t)
	opt, err := nats.NkeyOptionFromSeed(filepath.Join(layout.AgencyKeys(w.data, school), keys.NKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	violations := make(chan error, 8)
	nc, err := nats.Connect("nats://"+w.listen, opt, nats.CustomInboxPrefix(bus.InboxPrefix(school)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	expectViolation := func(what string) {
		t.Helper()
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permission") {
				t.Fatalf("%s: %v, want a permission violation", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s was not refused", what)
		}
	}
	if err := nc.Publish(bus.In(social), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	expectViolation("publishing on another agency's inbound subject")
	if _, err := nc.SubscribeSync(bus.Out(social)); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	expectViolation("subscribing to another agency's deliveries")
	if _, err := nc.SubscribeSync("_INBOX_" + social + ".>"); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	expectViolation("subscribing to another agency's replies")
	if _, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT."+bus.StreamOut+"."+bus.InboxConsumer(social), []byte(`{"batch":1}`), time.Second); err == nil {
		t.Fatal("fetching another agency's inbox succeeded")
	}
	expectViolation("fetching another agency's inbox")
}

// TestAgencyAddedWhileRunning adds an agency to the directory of a running
// broker: it can connect and exchange messages without a restart, and the
// agencies already connected are not disturbed.
func TestAgencyAddedWhileRunning(t *testing.T) {
	w := newWorld(t)
	changed := make(chan struct{}, 1)
	w.svc.Dir.OnChange(func(*directory.Directory) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	sch := w.dial(school, nil)
	if _, err := provision.NewAgency(w.data, provision.AgencySpec{ID: "soc-lund", Kind: directory.KindSocialServices, Name: "Socialtjänsten Lund"}); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the new agency", func(d *directory.Directory) bool {
		_, ok := d.Lookup("soc-lund")
		return ok
	})
	lund := w.dial("soc-lund", nil)
	ctx, cancel := ctxT()
	defer cancel()
	schNew := w.dial(school, nil) // a client with the new directory
	if _, err := schNew.Deliver(ctx, agency.Message{To: "soc-lund", Kind: "concern_report", Metadata: concern("elev-7"), Payload: []byte("hej")}); err != nil {
		t.Fatal(err)
	}
	d, err := lund.Next(ctx)
	if err != nil || string(d.Payload) != "hej" {
		t.Fatalf("new agency's delivery: %v", err)
	}
	d.Ack()
	// The old client still works.
	if _, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-8"), Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}
