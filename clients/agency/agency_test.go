package agency_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

const (
	police  = "polisen-syd"
	school  = "rosengard-skola"
	social  = "soc-malmo"
	timeout = 20 * time.Second
)

type world struct {
	t    *testing.T
	dep  *brokertest.Deployment
	data string
	url  string
	svc  *service.Service
}

// newWorld starts a real broker with embedded NATS on loopback and the
// three demo agencies.
func newWorld(t *testing.T) *world {
	t.Helper()
	dep := brokertest.NewDeployment(t, brokertest.Options{KeysInData: true})
	w := &world{t: t, dep: dep, data: dep.Data, svc: dep.Start(t, nil)}
	w.url = w.svc.NATSURL()
	return w
}

func (w *world) dial(id string) *agency.Client {
	w.t.Helper()
	return w.dep.Dial(w.t, id)
}

// child returns the pseudonym of a test pupil under the deployment's key,
// as every agency derives it.
func (w *world) child(agencyID string) (string, string) {
	w.t.Helper()
	k, err := pseudonym.LoadKey(filepath.Join(layout.AgencyKeys(w.data, agencyID), pseudonym.KeyFile))
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := pseudonym.Parse("20120304-2385")
	if err != nil {
		w.t.Fatal(err)
	}
	return k.Of(p), p.BirthDate()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func judged(by, outcome string) *agency.Judgement {
	return &agency.Judgement{By: by, At: time.Now().Add(-time.Minute), Outcome: outcome, Reason: "bedömt i det enskilda fallet"}
}

func wantDenied(t *testing.T, err error, reason string) *agency.RejectedError {
	t.Helper()
	var rej *agency.RejectedError
	if !errors.As(err, &rej) || !errors.Is(err, agency.ErrDenied) || errors.Is(err, agency.ErrRefused) {
		t.Fatalf("want a denial by policy, got %v", err)
	}
	if !slices.ContainsFunc(rej.Receipt.Reasons, func(r string) bool { return strings.Contains(r, reason) }) {
		t.Fatalf("reasons %q lack %q", rej.Receipt.Reasons, reason)
	}
	return rej
}

// TestRequestAnswered: the police ask a school for a pupil's enrolment and
// the rector's responder answers it; the police get the answer with the
// broker's decision.
func TestRequestAnswered(t *testing.T) {
	w := newWorld(t)
	pol, sch := w.dial(police), w.dial(school)
	pn, bd := w.child(police)

	ctx, stop := context.WithCancel(ctxT(t))
	defer stop()
	served := make(chan error, 1)
	go func() {
		served <- sch.Serve(ctx, agency.HandlerFunc(func(ctx context.Context, req *agency.Delivery) error {
			_, err := sch.Respond(ctx, req, agency.Claims{Category: "enrolment", SenderRole: "rector",
				Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}, Secret: agency.Bool(false)},
				[]byte("Eleven går i klass 7B på Rosengårdsskolan."))
			return err
		}))
	}()
	ans, err := pol.Request(ctxT(t), agency.Message{To: school, Metadata: agency.Claims{
		Category: "enrolment", Purpose: "utreda misshandel på fritiden", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}},
		Payload: []byte("Vilken skola går eleven i?")})
	if err != nil {
		t.Fatal(err)
	}
	if ans.From != school || ans.Kind != agency.KindResponse || ans.Decision.Rule != "R-LUB-REQUEST" ||
		string(ans.Payload) != "Eleven går i klass 7B på Rosengårdsskolan." {
		t.Fatalf("answer %+v under %+v", ans, ans.Decision)
	}
	if err := ans.Ack(); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// TestRequestRejected: a request without a basis is rejected at once with
// every reason, as a policy denial.
func TestRequestRejected(t *testing.T) {
	w := newWorld(t)
	pol := w.dial(police)
	pn, bd := w.child(police)
	_, err := pol.Request(ctxT(t), agency.Message{To: school, Metadata: agency.Claims{
		Category: "health", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}},
		Payload: []byte("Elevhälsans journal, tack.")})
	wantDenied(t, err, "R-LUB-REQUEST: the request states no purpose in crime fighting")

	// A request the broker cannot read is refused, not denied.
	d := w.dial(school)
	raw, id, err := d.Seal(agency.Message{To: police, Kind: agency.KindRequest, Metadata: agency.Claims{Category: "enrolment"}})
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	if err := d.Publish(ctxT(t), raw, id); err != nil {
		t.Fatal(err)
	}
	_, err = d.Receipt(ctxT(t), id)
	var rej *agency.RejectedError
	if !errors.Is(err, agency.ErrRefused) || errors.Is(err, agency.ErrDenied) || !errors.As(err, &rej) || rej.Receipt.ErrorCode != errcode.BadSignature {
		t.Fatalf("tampered request: %v", err)
	}
}

// TestUnreachable: no broker answers on the address.
func TestUnreachable(t *testing.T) {
	w := newWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, _ := directory.Load(layout.Directory(w.data))
	ident, _ := agency.LoadIdentity(layout.AgencyKeys(w.data, police), police)
	_, err = agency.Dial(ctxT(t), agency.Config{URL: "nats://" + addr, Identity: ident, Directory: d})
	if !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("dial to nothing: %v", err)
	}
}

// TestConcernFeedbackStatusOnly: social services answer a school's report
// of concern with the status only; anything more is denied without consent.
func TestConcernFeedbackStatusOnly(t *testing.T) {
	w := newWorld(t)
	sch, soc := w.dial(school), w.dial(social)
	pn, bd := w.child(school)
	r, err := sch.ReportConcern(ctxT(t), social, agency.Claims{Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd},
		Purpose: "orosanmälan", SenderRole: "mentor", FeedbackRequested: agency.Bool(true)},
		[]byte("Eleven har ändrat beteende och berättar om bråk hemma."))
	if err != nil || r.Rule != "R-CONCERN" {
		t.Fatalf("concern: %+v %v", r, err)
	}
	rep, err := soc.Next(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	rep.Ack()
	status := agency.Claims{Category: "investigation_status", InvestigationStatus: "opened",
		Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}, FeedbackRequested: agency.Bool(true),
		FeedbackAssessment: judged("Handläggare Berg", "appropriate"), GuardianInformed: agency.Bool(true)}
	fb, err := soc.Deliver(ctxT(t), agency.Message{To: school, Kind: agency.KindFeedback, ReplyTo: rep.ID,
		Metadata: status, Payload: []byte("Utredning inledd.")})
	if err != nil {
		t.Fatal(err)
	}
	if fb.Rule != "R-FEEDBACK" || !slices.Contains(fb.Obligations, "status-only") {
		t.Fatalf("feedback receipt %+v", fb)
	}
	got, err := sch.Next(ctxT(t))
	if err != nil || got.ReplyTo != rep.ID || !slices.Contains(got.Decision.Obligations, "status-only") {
		t.Fatalf("feedback delivery %+v: %v", got, err)
	}
	got.Ack()

	more := status
	more.Category = "case_details"
	_, err = soc.Deliver(ctxT(t), agency.Message{To: school, Kind: agency.KindFeedback, ReplyTo: rep.ID,
		Metadata: more, Payload: []byte("Familjen får stödinsatser i hemmet.")})
	wantDenied(t, err, "anything beyond the status needs consent")
}

func guardiansConsent(pn, bd string, to ...string) consent.Record {
	at := time.Now().Add(-time.Hour).UTC()
	return consent.Record{
		ID:         "samtycke-1",
		Subject:    consent.Subject{Pseudonym: pn, BirthDate: bd},
		Categories: []string{"case_details"}, Recipients: to,
		Purpose: "samordnat stöd i skolan",
		GivenBy: []consent.Giver{{Role: consent.RoleGuardian, By: "vårdnadshavare 1", At: at},
			{Role: consent.RoleGuardian, By: "vårdnadshavare 2", At: at}, {Role: consent.RoleChild, At: at}},
		GuardianCount: 2, MaturityAssessment: &consent.Judgement{By: "Handläggare Berg", At: at, Outcome: consent.MaturityChildConsentRequired},
		Documented: consent.Documentation{How: "written", By: "Handläggare Berg", At: at},
		ValidFrom:  at,
	}
}

// TestConsentThenWithdrawn: a consent recorded by social services lets them
// disclose case details to the school; once withdrawn, the same disclosure
// is denied. Consent data inline in the claims is never trusted.
func TestConsentThenWithdrawn(t *testing.T) {
	w := newWorld(t)
	soc, sch := w.dial(social), w.dial(school)
	pn, bd := w.child(social)
	ctx := ctxT(t)

	rec := guardiansConsent(pn, bd, school)
	claims := agency.Claims{Category: "case_details", Purpose: rec.Purpose, Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}}
	disclose := func(c any) error {
		_, err := soc.Deliver(ctx, agency.Message{To: school, Kind: agency.KindDisclosure, Metadata: c,
			Payload: []byte("Familjen har stöd av familjebehandlare.")})
		return err
	}
	// Claiming a consent inline proves nothing.
	inline := map[string]any{"category": claims.Category, "purpose": claims.Purpose, "subject": claims.Subject,
		"consent": rec, "consent_ref": "soc-malmo.finns-inte"}
	wantDenied(t, disclose(inline), "no consent record resolved by the broker")

	ref, err := soc.RecordConsent(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "soc-malmo.samtycke-1" {
		t.Fatalf("ref = %q", ref)
	}
	if _, err := soc.RecordConsent(ctx, rec); !errors.Is(err, consent.ErrExists) {
		t.Fatalf("recording the same consent again: %v", err)
	}
	claims.ConsentRef = ref
	if err := disclose(claims); err != nil {
		t.Fatal(err)
	}
	d, err := sch.Next(ctx)
	if err != nil || d.Decision.Rule != "R-CONSENT" || !slices.Contains(d.Decision.Obligations, "within-consent-scope") {
		t.Fatalf("disclosure under consent: %+v %v", d, err)
	}
	d.Ack()

	// Sealed while the consent stood, decided after it was withdrawn: the
	// withdrawal counts from the decision, not from the message's creation.
	// Created a second back, so that the withdrawal, at now, comes after it
	// without waiting for the clock to move.
	sealed, sealedID, err := soc.Seal(agency.Message{To: school, Kind: agency.KindDisclosure, Metadata: claims,
		Payload: []byte("Skrivet före återkallelsen."), CreatedAt: time.Now().Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := soc.WithdrawConsent(ctx, ref, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := soc.Publish(ctx, sealed, sealedID); err != nil {
		t.Fatal(err)
	}
	_, err = soc.Receipt(ctx, sealedID)
	wantDenied(t, err, "R-CONSENT: consent was withdrawn")
	if got, err := soc.Consent(ctx, ref); err != nil || got.WithdrawnAt == nil {
		t.Fatalf("withdrawn consent reads back as %+v, %v", got, err)
	}
	wantDenied(t, disclose(claims), "R-CONSENT: consent was withdrawn")
	if _, err := soc.WithdrawConsent(ctx, ref, time.Time{}); !errors.Is(err, consent.ErrWithdrawn) {
		t.Fatalf("withdrawing twice: %v", err)
	}

	// Rewriting the record without the withdrawal, with social services' own
	// NATS user, does not bring the consent back.
	nc := w.rawConn(social)
	js, _ := jetstream.New(nc)
	rec.ID = ref
	b, _ := json.Marshal(rec)
	if _, err := js.Publish(ctx, "$KV."+consent.Bucket+"."+ref, b); err != nil {
		t.Fatal(err)
	}
	if got, err := soc.Consent(ctx, ref); err != nil || got.WithdrawnAt != nil {
		t.Fatalf("the rewritten record: %+v, %v", got, err)
	}
	wantDenied(t, disclose(claims), "no consent record resolved by the broker")

	// Widening a standing consent after the guardians gave it, here to a
	// purpose they never agreed to, leaves no consent at all.
	rec = guardiansConsent(pn, bd, school)
	rec.ID = "samtycke-2"
	ref2, err := soc.RecordConsent(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.ID, rec.Purpose = ref2, "all stödplanering i skolan"
	b, _ = json.Marshal(rec)
	if _, err := js.Publish(ctx, "$KV."+consent.Bucket+"."+ref2, b); err != nil {
		t.Fatal(err)
	}
	claims.ConsentRef, claims.Purpose = ref2, rec.Purpose
	wantDenied(t, disclose(claims), "no consent record resolved by the broker")
}

// rawConn connects with an agency's NATS user, without the SDK; errs gets
// what the server reports asynchronously, such as permission violations.
func (w *world) rawConn(id string, errs ...chan error) *nats.Conn {
	w.t.Helper()
	opt, err := nats.NkeyOptionFromSeed(filepath.Join(layout.AgencyKeys(w.data, id), keys.NKeyFile))
	if err != nil {
		w.t.Fatal(err)
	}
	opts := []nats.Option{opt, nats.CustomInboxPrefix(bus.InboxPrefix(id))}
	for _, ch := range errs {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { ch <- err }))
	}
	nc, err := nats.Connect(w.url, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(nc.Close)
	return nc
}

// TestConsentWrittenOnlyByItsAgency: the school can record its own consents
// but can neither overwrite, create nor read social services' consents.
func TestConsentWrittenOnlyByItsAgency(t *testing.T) {
	w := newWorld(t)
	soc, sch := w.dial(social), w.dial(school)
	pn, bd := w.child(social)
	ctx := ctxT(t)
	ref, err := soc.RecordConsent(ctx, guardiansConsent(pn, bd, school))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sch.RecordConsent(ctx, guardiansConsent(pn, bd, social)); err != nil {
		t.Fatalf("the school recording its own consent: %v", err)
	}

	// The school's NATS user, with the KV API directly.
	violations := make(chan error, 16)
	nc := w.rawConn(school, violations)
	js, _ := jetstream.New(nc)
	kv := "$KV." + consent.Bucket + "."
	forged := []byte(`{"id":"` + ref + `","general":true}`)
	request := func(ctx context.Context, subj, body string) error {
		_, err := nc.RequestWithContext(ctx, subj, []byte(body))
		return err
	}
	for _, try := range []struct {
		what string
		do   func(context.Context) error
	}{
		{"overwrite", func(ctx context.Context) error { _, err := js.Publish(ctx, kv+ref, forged); return err }},
		{"create", func(ctx context.Context) error { _, err := js.Publish(ctx, kv+"soc-malmo.ny", forged); return err }},
		{"delete", func(ctx context.Context) error {
			m := nats.NewMsg(kv + ref)
			m.Header.Set("KV-Operation", "DEL")
			_, err := js.PublishMsg(ctx, m)
			return err
		}},
		{"read", func(ctx context.Context) error {
			return request(ctx, "$JS.API.DIRECT.GET.KV_"+consent.Bucket+"."+kv+ref, "")
		}},
		{"list the keys of", func(ctx context.Context) error {
			return request(ctx, "$JS.API.STREAM.INFO.KV_"+consent.Bucket, `{"subjects_filter":">"}`)
		}},
		{"read by sequence", func(ctx context.Context) error {
			return request(ctx, "$JS.API.STREAM.MSG.GET.KV_"+consent.Bucket, `{"seq":1}`)
		}},
	} {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := try.do(tctx)
		cancel()
		if err == nil {
			t.Fatalf("the school could %s social services' consent", try.what)
		}
		select {
		case v := <-violations:
			if !strings.Contains(strings.ToLower(v.Error()), "permission") {
				t.Fatalf("%s: %v, want a permission violation", try.what, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no permission violation reported (%v)", try.what, err)
		}
	}
	got, err := soc.Consent(ctx, ref)
	if err != nil || got.Purpose != "samordnat stöd i skolan" || got.WithdrawnAt != nil {
		t.Fatalf("social services' consent after the attempts: %+v, %v", got, err)
	}
	if _, err := soc.Consent(ctx, "soc-malmo.ny"); !errors.Is(err, consent.ErrNotFound) {
		t.Fatalf("a consent was created under social services' name: %v", err)
	}
}

// TestForwardOfFUDataRefused: data from a preliminary investigation reaches
// social services with the obligation not to pass it on; forwarding it to
// the school is refused by the broker.
func TestForwardOfFUDataRefused(t *testing.T) {
	w := newWorld(t)
	soc, pol, sch := w.dial(social), w.dial(police), w.dial(school)
	pn, bd := w.child(social)
	ctx, stop := context.WithCancel(ctxT(t))
	defer stop()
	served := make(chan error, 1)
	go func() {
		served <- pol.Serve(ctx, agency.HandlerFunc(func(ctx context.Context, req *agency.Delivery) error {
			_, err := pol.Respond(ctx, req, agency.Claims{Category: "preliminary_investigation",
				Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd},
				FU:      &agency.FU{ConcernReportMade: true, RelevanceAssessment: judged("Förundersökningsledare Ek", "relevant")}},
				[]byte("Uppgifter ur förundersökningen om misshandeln."))
			return err
		}))
	}()
	fu, err := soc.Request(ctx, agency.Message{To: police, Metadata: agency.Claims{Category: "preliminary_investigation",
		Purpose: "bedöma barnets behov av skydd", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd},
		FU: &agency.FU{ConcernReportMade: true}}, Payload: []byte("Vi begär uppgifter ur förundersökningen.")})
	if err != nil {
		t.Fatal(err)
	}
	fu.Ack()
	if fu.Decision.Rule != "R-FU" || fu.MayForward() {
		t.Fatalf("FU answer under %+v", fu.Decision)
	}
	_, err = soc.Forward(ctx, fu, school, agency.Claims{Category: "preliminary_investigation",
		Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd}, Purpose: "samordnat stöd i skolan"}, fu.Payload)
	wantDenied(t, err, "secrecy travels with data")

	// A concern report that says it passes on a message the broker never
	// saw is refused: the broker cannot tell what secrecy that data carries.
	_, err = sch.Deliver(ctx, agency.Message{To: social, Kind: agency.KindConcernReport, Metadata: agency.Claims{
		Category: "concern", Purpose: "orosanmälan", Subject: &agency.Subject{Pseudonym: pn, BirthDate: bd},
		ForwardedFrom: []string{"00000000000000000000000000000000"}}, Payload: []byte("Vidarebefordrat.")})
	wantDenied(t, err, "claims.forwarded_from names 1 message(s) the broker has no record of")
	nctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if d, err := sch.Next(nctx); err == nil {
		t.Fatalf("the school received forwarded FU data %s", d.ID)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
