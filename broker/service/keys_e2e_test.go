package service_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// waitForDirectory waits until the running broker's directory satisfies ok.
// Reloads are signalled by the directory source; the loop only covers the
// moment between a reload's callbacks and its swap.
func waitForDirectory(t *testing.T, w *world, changed <-chan struct{}, what string, ok func(*directory.Directory) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for !ok(w.svc.Dir.Current()) {
		select {
		case <-changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the broker did not pick up %s", what)
		}
	}
}

func dialAs(t *testing.T, w *world, keyDir, id string) *agency.Client {
	t.Helper()
	ident, err := agency.LoadIdentity(keyDir, id)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := ctxT()
	defer cancel()
	c, err := agency.Dial(ctx, agency.Config{URL: "nats://" + w.listen, Identity: ident, Directory: w.directory()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKeysEnrolRotateRevoke: an agency makes its keys on its own machine and
// is enrolled from its request; it exchanges messages, rotates its keys while
// messages flow (during the overlap each message opens with either age key),
// and once its old key is revoked, an envelope signed with it is refused as
// revoked_key and the old key's NATS connection is cut. The audit log
// verifies throughout.
func TestKeysEnrolRotateRevoke(t *testing.T) {
	w := newWorld(t)
	changed := make(chan struct{}, 1)
	w.svc.Dir.OnChange(func(*directory.Directory) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	const lund = "soc-lund"
	dirFile := layout.Directory(w.data)
	ctx, cancel := ctxT()
	defer cancel()

	// Enrolment: the keys are made elsewhere; only the request travels.
	oldDir := filepath.Join(t.TempDir(), lund)
	req, err := enroll.NewRequest(oldDir, enroll.Facts{ID: lund, Kind: directory.KindSocialServices, Name: "Socialtjänsten Lund"}, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sent, err := enroll.Load(filepath.Join(oldDir, enroll.RequestFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Apply(dirFile, sent, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the enrolment", func(d *directory.Directory) bool { _, ok := d.Lookup(lund); return ok })
	oldKid := req.Key.ID

	lundOld := dialAs(t, w, oldDir, lund)
	sch := w.dial(school, nil)
	if _, err := sch.Deliver(ctx, agency.Message{To: lund, Kind: "concern_report", Metadata: concern("elev-10"), Payload: []byte("före")}); err != nil {
		t.Fatal(err)
	}
	d, err := lundOld.Next(ctx)
	if err != nil || string(d.Payload) != "före" {
		t.Fatalf("delivery to the enrolled agency: %v", err)
	}
	d.Ack()

	// Rotation, signed by the old key and the new.
	newDir := filepath.Join(t.TempDir(), lund+"-2")
	rot, err := enroll.NewRotation(lund, oldDir, newDir, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Apply(dirFile, rot, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the rotation", func(d *directory.Directory) bool {
		a, ok := d.Lookup(lund)
		return ok && len(a.Keys) == 2
	})
	lundNew := dialAs(t, w, newDir, lund)
	sch = w.dial(school, nil) // a sender with the new directory

	// During the overlap a message is sealed to both keys: each opens it.
	raw, _, err := sch.Seal(agency.Message{To: lund, Kind: "concern_report", Metadata: concern("elev-11"), Payload: []byte("överlapp")})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{oldDir, newDir} {
		id, err := keys.LoadAgeIdentity(filepath.Join(dir, keys.AgeKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Parse(raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		schoolAgency, _ := w.directory().Lookup(school)
		if _, err := schoolAgency.VerifyEnvelope(env, time.Now()); err != nil {
			t.Fatal(err)
		}
		if p, err := env.OpenPayload(id); err != nil || string(p) != "överlapp" {
			t.Fatalf("the key in %s does not open a message sealed during the overlap: %v", dir, err)
		}
	}
	// And through the broker, either client reads its deliveries.
	for i, c := range []*agency.Client{lundOld, lundNew} {
		text := []string{"till gamla nyckeln", "till nya nyckeln"}[i]
		if _, err := sch.Deliver(ctx, agency.Message{To: lund, Kind: "concern_report", Metadata: concern("elev-12"), Payload: []byte(text)}); err != nil {
			t.Fatal(err)
		}
		d, err := c.Next(ctx)
		if err != nil || string(d.Payload) != text {
			t.Fatalf("delivery %q during the overlap: %+v %v", text, d, err)
		}
		d.Ack()
	}
	// Both keys sign for the agency during the overlap.
	for _, c := range []*agency.Client{lundOld, lundNew} {
		_, err := c.Deliver(ctx, agency.Message{To: school, Kind: "feedback", Metadata: map[string]any{"category": "feedback"}, Payload: []byte("tack")})
		var rej *agency.RejectedError
		if err != nil && !(errors.As(err, &rej) && rej.Receipt.ErrorCode == "") {
			t.Fatalf("a message signed during the overlap: %v", err)
		}
	}

	// Revocation: a message signed with the old key, sealed before and sent
	// after, is refused, and the old key's NATS connection is cut.
	stale, staleID, err := lundOld.Seal(agency.Message{To: school, Kind: "feedback", Metadata: map[string]any{"category": "feedback"}, Payload: []byte("sen")})
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(oldDir, keys.NKeyFile)
	nkeyOpt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	cut := make(chan struct{})
	oldConn, err := nats.Connect("nats://"+w.listen, nkeyOpt, nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(cut) }))
	if err != nil {
		t.Fatal(err)
	}
	defer oldConn.Close()
	if _, err := enroll.RevokeFile(dirFile, lund, oldKid, "superseded by "+rot.Key.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the revocation", func(d *directory.Directory) bool {
		a, _ := d.Lookup(lund)
		k, _ := a.Key(oldKid)
		return k != nil && k.RevokedAt != nil
	})
	select {
	case <-cut:
	case <-ctx.Done():
		t.Fatal("the revoked key's NATS connection is still open")
	}
	if c, err := nats.Connect("nats://"+w.listen, nkeyOpt, nats.NoReconnect()); err == nil {
		c.Close()
		t.Fatal("the revoked key logged in to NATS again")
	}
	// lundNew publishes it on the agency's subject, as a thief holding the
	// old signing key but not the NATS key would have to.
	if err := lundNew.Publish(ctx, stale, staleID); err != nil {
		t.Fatal(err)
	}
	r, err := lundNew.Receipt(ctx, staleID)
	var rej *agency.RejectedError
	if !errors.As(err, &rej) || r.ErrorCode != errcode.RevokedKey || !errors.Is(err, agency.ErrBadKey) {
		t.Fatalf("a message signed with the revoked key: %+v, %v; want revoked_key", r, err)
	}
	t.Logf("revoked_key: %s", r.Reasons[0])
	// The new key goes on working.
	if _, err := sch.Deliver(ctx, agency.Message{To: lund, Kind: "concern_report", Metadata: concern("elev-13"), Payload: []byte("efter")}); err != nil {
		t.Fatal(err)
	}
	if d, err := lundNew.Next(ctx); err != nil || string(d.Payload) != "efter" {
		t.Fatalf("delivery after the revocation: %v", err)
	} else {
		d.Ack()
	}

	recs := auditRecords(t, w)
	if rec, ok := findByMessage(recs, staleID); !ok || rec.ErrorCode != errcode.RevokedKey {
		t.Fatalf("the revoked key's message in the audit log: %+v", rec)
	}
	// Each change of the agency's keys is in the log.
	events := map[string]int{}
	for _, r := range recs {
		if r.Outcome == decision.KeyEvent && r.Sender == lund {
			events[r.Kind+" "+r.KeyID]++
		}
	}
	want := map[string]int{
		decision.KindKeyAdded + " " + oldKid:     1,
		decision.KindKeyAdded + " " + rot.Key.ID: 1,
		decision.KindKeyRevoked + " " + oldKid:   1,
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("key events in the audit log: %v, want %v", events, want)
	}
}

// TestBrokerKeyRotation rotates the broker's own keys: agencies seal to both
// during the overlap, the restarted broker signs with the new key and logs in
// with its new nkey, and once the old key is revoked receipts and deliveries
// still verify, against the new key alone.
func TestBrokerKeyRotation(t *testing.T) {
	w := newWorld(t)
	changed := make(chan struct{}, 1)
	w.svc.Dir.OnChange(func(*directory.Directory) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	ctx, cancel := ctxT()
	defer cancel()
	exchange := func(text string) {
		t.Helper()
		sch, soc := w.dial(school, nil), w.dial(social, nil)
		r, err := sch.Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-20"), Payload: []byte(text)})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		d, err := soc.Next(ctx)
		if err != nil || string(d.Payload) != text || d.Decision.DecisionID != r.DecisionID {
			t.Fatalf("%s: delivery %+v, %v", text, d, err)
		}
		d.Ack()
	}
	exchange("före")
	oldKid := w.directory().Broker.Keys[0].ID

	newKid, err := service.RotateBrokerKey(w.data, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the broker's new key", func(d *directory.Directory) bool { return len(d.Broker.Keys) == 2 })
	// The running broker holds only the old identity; metadata sealed to
	// both keys still opens.
	exchange("under överlappet")

	w.stop()
	w.start()
	w.svc.Dir.OnChange(func(*directory.Directory) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	if err := service.RevokeBrokerKey(w.data, oldKid, "superseded by "+newKid, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, w, changed, "the revocation of the old broker key", func(d *directory.Directory) bool {
		k, _ := d.Broker.Key(oldKid)
		return k != nil && k.RevokedAt != nil
	})
	d := w.directory()
	if k, _ := d.Broker.Key(oldKid); k == nil || k.RevokedAt == nil {
		t.Fatal("the old broker key is not revoked")
	}
	// Fresh clients trust only the new broker key now: the receipt and the
	// decision verify, so the restarted broker signed with it.
	exchange("efter")
	if err := service.RevokeBrokerKey(w.data, newKid, "test", time.Now()); err == nil {
		t.Fatal("revoked the broker's last usable key")
	}
	var events []string
	for _, r := range auditRecords(t, w) {
		if r.Outcome == decision.KeyEvent {
			events = append(events, r.Sender+" "+r.Kind+" "+r.KeyID)
		}
	}
	want := []string{"broker key_added " + newKid, "broker key_revoked " + oldKid}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("key events in the audit log: %q, want %q", events, want)
	}
}
