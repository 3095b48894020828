package service_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// tlsWorld is a broker whose embedded NATS server takes only mutual TLS.
type tlsWorld struct {
	*world
	ca *tlsca.CA
}

func newTLSWorld(t *testing.T) *tlsWorld {
	t.Helper()
	dep := brokertest.NewDeployment(t, brokertest.Options{
		Agencies: brokertest.DemoAgencies(social), KeysInData: true, TLS: true, Auditor: true,
	})
	w := &world{t: t, dep: dep, data: dep.Data, listen: freePort(t), auditor: dep.Auditor}
	tw := &tlsWorld{world: w, ca: dep.CA}
	tw.start()
	t.Cleanup(w.stop)
	return tw
}

// start starts the broker on the world's data directory and port with the
// server certificate and the client CA that "brokerctl init --tls" makes.
func (tw *tlsWorld) start() {
	tw.t.Helper()
	cfg := tw.dep.Config(tw.t)
	cfg.NATSListen, cfg.ReloadInterval = tw.listen, 100*time.Millisecond
	svc, err := service.Start(context.Background(), cfg)
	if err != nil {
		tw.t.Fatal(err)
	}
	tw.svc = svc
}

// issue writes a client certificate for agency id into its key folder dir.
func (tw *tlsWorld) issue(dir, id string) {
	tw.t.Helper()
	p, err := tw.ca.IssueClient(id)
	if err != nil {
		tw.t.Fatal(err)
	}
	if err := p.Write(filepath.Join(dir, tlsca.ClientCertFile), filepath.Join(dir, tlsca.ClientKeyFile)); err != nil {
		tw.t.Fatal(err)
	}
}

// dial connects agency id with the keys and client certificate in dir,
// trusting the broker's CA, with directory d (nil: the file's current one).
func (tw *tlsWorld) dial(dir, id string, d *directory.Directory) *agency.Client {
	tw.t.Helper()
	ident, err := agency.LoadIdentity(dir, id)
	if err != nil {
		tw.t.Fatal(err)
	}
	if d == nil {
		d = tw.directory()
	}
	ctx, cancel := ctxT()
	defer cancel()
	c, err := agency.Dial(ctx, agency.Config{URL: "tls://" + tw.listen, Identity: ident, Directory: d,
		TLSCA:   service.TLSPath(tw.data, tlsca.CAFile),
		TLSCert: filepath.Join(dir, tlsca.ClientCertFile), TLSKey: filepath.Join(dir, tlsca.ClientKeyFile)})
	if err != nil {
		tw.t.Fatalf("dial %s with the keys in %s: %v", id, dir, err)
	}
	tw.t.Cleanup(func() { c.Close() })
	return c
}

// brokerJetStream connects as the broker, over TLS with its client
// certificate, as brokerctl audit does.
func (tw *tlsWorld) brokerJetStream() jetstream.JetStream {
	tw.t.Helper()
	nc, js, err := service.ConnectAsBroker(tw.data, "tls://"+tw.listen,
		nats.RootCAs(service.TLSPath(tw.data, tlsca.CAFile)),
		nats.ClientCert(service.TLSPath(tw.data, tlsca.BrokerCertFile), service.TLSPath(tw.data, tlsca.BrokerKeyFile)))
	if err != nil {
		tw.t.Fatal(err)
	}
	tw.t.Cleanup(nc.Close)
	return js
}

// onReload returns a channel that receives a value after each directory
// reload of the running broker.
func (tw *tlsWorld) onReload() <-chan struct{} {
	changed := make(chan struct{}, 1)
	tw.svc.Dir.OnChange(func(*directory.Directory) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	return changed
}

// TestTrustLifecycleOverTLS runs a broker that takes only mutual TLS through
// the whole life of its keys, counting every message: an agency is enrolled
// from a request made in its own folder; it sends a stream of reports that
// goes on while its keys are rotated and the broker reloads its directory;
// its old key is revoked and a message signed with it is refused as
// revoked_key; then the broker's receipt key and audit checkpoint key are
// rotated across a restart. Every message sent gets exactly one receipt,
// every allowed one exactly one delivery; receipts from before and after the
// broker's rotation verify with the SDK; and the audit log verifies as
// brokerctl audit verify checks it, with checkpoints under both audit keys
// and a record of each key change.
func TestTrustLifecycleOverTLS(t *testing.T) {
	tw := newTLSWorld(t)
	changed := tw.onReload()
	const lund = "skola-lund"
	dirFile := layout.Directory(tw.data)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Plaintext is refused: the server announces that it requires TLS and
	// answers a plaintext CONNECT with no PONG; the NATS client and the SDK
	// without the broker's CA and a client certificate do not get in either.
	raw, err := net.DialTimeout("tcp", tw.listen, timeout)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(timeout))
	rd := bufio.NewReader(raw)
	info, err := rd.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("the server's INFO does not require TLS: %q, %v", info, err)
	}
	if _, err := raw.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := rd.ReadString('\n'); err == nil && strings.HasPrefix(line, "PONG") {
		t.Fatal("the server answered a plaintext client")
	}
	raw.Close()
	socSeed, err := nats.NkeyOptionFromSeed(filepath.Join(layout.AgencyKeys(tw.data, social), keys.NKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect("nats://"+tw.listen, socSeed, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a plaintext NATS connection was accepted")
	}
	ident, err := agency.LoadIdentity(layout.AgencyKeys(tw.data, social), social)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agency.Dial(ctx, agency.Config{URL: "nats://" + tw.listen, Identity: ident, Directory: tw.directory()}); !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("an agency without TLS: %v, want ErrUnreachable", err)
	}

	// Enrolment from a request made in the agency's own folder.
	oldDir := filepath.Join(t.TempDir(), lund)
	req, err := enroll.NewRequest(oldDir, enroll.Facts{ID: lund, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Lunds skola"}, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tw.issue(oldDir, lund)
	sentReq, err := enroll.Load(filepath.Join(oldDir, enroll.RequestFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.Apply(dirFile, sentReq, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, tw.world, changed, "the enrolment", func(d *directory.Directory) bool { _, ok := d.Lookup(lund); return ok })
	oldKid := req.Key.ID
	lundOld := tw.dial(oldDir, lund, nil)
	socOld := tw.dial(layout.AgencyKeys(tw.data, social), social, nil)

	// The stream: the sender publishes while the receiver takes deliveries;
	// credit bounds how far the sender runs ahead, so that messages are in
	// flight at every step of the rotation.
	const (
		inFlight = 8
		afterNew = 20   // messages signed with the new key
		maxSent  = 2000 // a bound, never reached unless the rotation is not picked up
	)
	var (
		sender, receiver atomic.Pointer[agency.Client]
		mu               sync.Mutex
		sentByOld        = map[string]bool{} // message id → signed with the old key
		credit           = make(chan struct{}, inFlight)
		warm             = make(chan struct{}) // closed after ten messages
		moved            = make(chan struct{}) // closed when the receiver uses the new client
		delivered        = make(chan string, maxSent+afterNew)
		wg               sync.WaitGroup
	)
	sender.Store(lundOld)
	receiver.Store(socOld)
	for range inFlight {
		credit <- struct{}{}
	}
	var lundNew, socNew *agency.Client
	wg.Add(1)
	go func() {
		defer wg.Done()
		onNew := 0
		for i := 0; onNew < afterNew; i++ {
			if i == maxSent {
				t.Errorf("%d messages sent and the sender was never switched to the new key", i)
				return
			}
			select {
			case <-credit:
			case <-ctx.Done():
				t.Errorf("sender: no credit after %d messages: %v", i, ctx.Err())
				return
			}
			c := sender.Load()
			raw, id, err := c.Seal(agency.Message{To: social, Kind: "concern_report",
				Metadata: concern(fmt.Sprintf("elev-%d", i)), Payload: []byte(fmt.Sprintf("rapport %d", i))})
			if err != nil {
				t.Error(err)
				return
			}
			if err := c.Publish(ctx, raw, id); err != nil {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			mu.Lock()
			sentByOld[id] = c == lundOld
			mu.Unlock()
			if c != lundOld {
				onNew++
			}
			if i == 9 {
				close(warm)
			}
		}
	}()
	rctx, rcancel := context.WithCancel(ctx)
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		for first := true; ; {
			c := receiver.Load()
			if c != socOld && first {
				first = false
				close(moved)
			}
			d, err := c.Next(rctx)
			if err != nil {
				if rctx.Err() == nil {
					t.Errorf("receiver: %v", err)
				}
				return
			}
			if err := d.Ack(); err != nil {
				t.Errorf("ack %s: %v", d.ID, err)
			}
			delivered <- d.ID
			select {
			case credit <- struct{}{}:
			default: // a delivery beyond those sent: counted as a duplicate below
			}
		}
	}()

	// Rotation while the stream runs: signed by the old key and the new,
	// applied to the directory file, picked up by the broker's reload.
	select {
	case <-warm:
	case <-ctx.Done():
		t.Fatal("the stream did not start")
	}
	newDir := filepath.Join(t.TempDir(), lund+"-2")
	rot, err := enroll.NewRotation(lund, oldDir, newDir, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tw.issue(newDir, lund)
	if _, err := enroll.Apply(dirFile, rot, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, tw.world, changed, "the rotation", func(d *directory.Directory) bool {
		a, ok := d.Lookup(lund)
		return ok && len(a.Keys) == 2
	})
	// The recipient's copy of the directory must know the new key before a
	// message signed with it reaches it.
	socNew = tw.dial(layout.AgencyKeys(tw.data, social), social, nil)
	lundNew = tw.dial(newDir, lund, nil)
	receiver.Store(socNew)
	select {
	case <-moved:
	case <-ctx.Done():
		t.Fatal("the receiver did not move to the new client")
	}
	sender.Store(lundNew)
	wg.Wait()
	if t.Failed() {
		rcancel()
		rwg.Wait()
		t.FailNow()
	}
	mu.Lock()
	total := len(sentByOld)
	onOld := 0
	for _, old := range sentByOld {
		if old {
			onOld++
		}
	}
	mu.Unlock()
	got := map[string]int{}
	for n := 0; n < total; n++ {
		select {
		case id := <-delivered:
			got[id]++
		case <-ctx.Done():
			t.Fatalf("%d of %d messages delivered", n, total)
		}
	}
	rcancel()
	rwg.Wait()
	close(delivered)
	for id := range delivered {
		got[id]++ // a duplicate, reported below
	}
	nothingArrives(t, socNew)
	for id := range sentByOld {
		if got[id] != 1 {
			t.Errorf("message %s delivered %d times", id, got[id])
		}
	}
	for id := range got {
		if _, ok := sentByOld[id]; !ok {
			t.Errorf("delivery %s was never sent", id)
		}
	}
	// One receipt per message, whichever key signed it.
	receipts := map[string]int{}
	for len(receipts) < total {
		r, err := lundNew.NextReceipt(ctx)
		if err != nil {
			t.Fatalf("after %d of %d receipts: %v", len(receipts), total, err)
		}
		if _, ok := sentByOld[r.MessageID]; !ok || !r.Allowed() {
			t.Fatalf("receipt %+v: not one of the stream's, or not delivered", r)
		}
		receipts[r.MessageID]++
	}
	noMore, noMoreCancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if r, err := lundNew.NextReceipt(noMore); err == nil {
		t.Errorf("a second receipt for %s", r.MessageID)
	}
	noMoreCancel()
	t.Logf("stream: %d messages, %d signed with the old key and %d with the new, each delivered and receipted once", total, onOld, total-onOld)

	// Revocation: the next message signed with the old key is refused.
	stale, staleID, err := lundOld.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-sen"), Payload: []byte("sen")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enroll.RevokeFile(dirFile, lund, oldKid, "superseded by "+rot.Key.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, tw.world, changed, "the revocation", func(d *directory.Directory) bool {
		a, _ := d.Lookup(lund)
		k, _ := a.Key(oldKid)
		return k != nil && k.RevokedAt != nil
	})
	if err := lundNew.Publish(ctx, stale, staleID); err != nil {
		t.Fatal(err)
	}
	r, err := lundNew.Receipt(ctx, staleID)
	var rej *agency.RejectedError
	if !errors.As(err, &rej) || r.ErrorCode != errcode.RevokedKey {
		t.Fatalf("a message signed with the revoked key: %+v, %v; want revoked_key", r, err)
	}
	nothingArrives(t, socNew)

	// The broker's keys: its receipt key (with its metadata key) and its
	// audit checkpoint key. Receipts of messages sent before are left at the
	// broker, to be read after the restart.
	preAudit, err := tw.svc.Audit.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pre []string
	for i := range 3 {
		raw, id, err := lundNew.Seal(agency.Message{To: social, Kind: "concern_report", Metadata: concern(fmt.Sprintf("elev-före-%d", i)), Payload: []byte("före")})
		if err != nil {
			t.Fatal(err)
		}
		if err := lundNew.Publish(ctx, raw, id); err != nil {
			t.Fatal(err)
		}
		pre = append(pre, id)
	}
	for range pre {
		d, err := socNew.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got[d.ID]++
		d.Ack()
	}
	oldBrokerKid := tw.directory().Broker.Keys[0].ID
	newBrokerKid, err := service.RotateBrokerKey(tw.data, false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	waitForDirectory(t, tw.world, changed, "the broker's new key", func(d *directory.Directory) bool { return len(d.Broker.Keys) == 2 })
	bdir := layout.BrokerKeys(tw.data)
	oldAudit, err := keys.LoadAuditVerifier(filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.RotateAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile), time.Now()); err != nil {
		t.Fatal(err)
	}
	newAudit, err := keys.LoadAuditVerifier(filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	lundNew.Close()
	socNew.Close()
	tw.stop()
	tw.start()

	// With only the old broker key in its directory, the SDK verifies the
	// receipts made before the restart; with only the new one, those made
	// after. An agency's directory holds both, so it verifies all of them.
	full := tw.directory()
	only := func(kid string) *directory.Directory {
		k, ok := full.Broker.Key(kid)
		if !ok {
			t.Fatalf("broker key %s not in the directory", kid)
		}
		d := *full
		d.Broker.Keys = []directory.Key{*k}
		return &d
	}
	lundPre := tw.dial(newDir, lund, only(oldBrokerKid))
	for _, id := range pre {
		r, err := lundPre.Receipt(ctx, id)
		if err != nil || !r.Allowed() {
			t.Fatalf("receipt of %s made before the rotation, verified with the old broker key: %+v, %v", id, r, err)
		}
		receipts[id]++
	}
	lundPre.Close()
	lundPost := tw.dial(newDir, lund, only(newBrokerKid))
	socPost := tw.dial(layout.AgencyKeys(tw.data, social), social, full)
	post, err := lundPost.Deliver(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern("elev-efter"), Payload: []byte("efter")})
	if err != nil {
		t.Fatalf("a receipt after the restart, verified with the new broker key alone: %v", err)
	}
	receipts[post.MessageID]++
	d, err := socPost.Next(ctx)
	if err != nil || d.ID != post.MessageID {
		t.Fatalf("delivery after the restart: %+v, %v", d, err)
	}
	got[d.ID]++
	d.Ack()
	nothingArrives(t, socPost)
	for _, id := range append(pre, post.MessageID) {
		if got[id] != 1 || receipts[id] != 1 {
			t.Errorf("message %s: %d deliveries, %d receipts", id, got[id], receipts[id])
		}
	}

	// The audit log, as brokerctl audit verify reads and checks it: the
	// stream, and every audit key in the history.
	if _, err := tw.svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	ex, err := audit.ReadStream(ctx, tw.brokerJetStream())
	if err != nil {
		t.Fatal(err)
	}
	history, err := keys.AuditKeyHistory(bdir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ex, history)
	if err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	if rep.Uncovered != 0 {
		t.Fatalf("audit verify: %+v", rep)
	}
	signedBy := map[string]int{}
	for _, msg := range ex.Checkpoints {
		for name, v := range map[string]note.Verifier{"old": oldAudit, "new": newAudit} {
			if _, _, err := audit.OpenCheckpoint(msg, note.VerifierList(v)); err == nil {
				signedBy[name]++
			}
		}
	}
	if signedBy["old"] == 0 || signedBy["new"] == 0 || signedBy["old"]+signedBy["new"] != len(ex.Checkpoints) {
		t.Fatalf("checkpoints by audit key: %v of %d", signedBy, len(ex.Checkpoints))
	}
	if _, _, err := audit.OpenCheckpoint(preAudit, history); err != nil {
		t.Fatalf("a checkpoint from before the audit key's rotation: %v", err)
	}
	if _, err := audit.Verify(ex, note.VerifierList(newAudit)); err == nil {
		t.Fatal("the log verified with the new audit key alone, though older checkpoints are signed with the old one")
	}
	var events []string
	perMessage := map[string]int{}
	for _, r := range ex.Records {
		e, err := audit.ParseEntry(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		rec := e.Decision
		if rec.Outcome == decision.KeyEvent {
			events = append(events, rec.Sender+" "+rec.Kind+" "+rec.KeyID)
			continue
		}
		perMessage[rec.MessageID]++
		if rec.MessageID == staleID && rec.ErrorCode != errcode.RevokedKey {
			t.Errorf("the revoked key's message in the audit log: %+v", rec)
		}
	}
	for id := range receipts {
		if perMessage[id] != 1 {
			t.Errorf("message %s has %d audit records", id, perMessage[id])
		}
	}
	if perMessage[staleID] != 1 {
		t.Errorf("the revoked key's message has %d audit records", perMessage[staleID])
	}
	want := []string{
		lund + " " + decision.KindKeyAdded + " " + oldKid,
		lund + " " + decision.KindKeyAdded + " " + rot.Key.ID,
		lund + " " + decision.KindKeyRevoked + " " + oldKid,
		"broker " + decision.KindKeyAdded + " " + newBrokerKid,
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("key events in the audit log: %q, want %q", events, want)
	}
	t.Logf("audit: %d records, %d checkpoints (%v by audit key)", rep.Records, rep.Checkpoints, signedBy)
}
