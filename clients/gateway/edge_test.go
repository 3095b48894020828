package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
)

// TestForwardOfFUDataRefusedAtTheEdge: data social services received from
// the police under förundersökningssekretess is not forwarded through the
// gateway; the answer says why, and nothing is sent.
func TestForwardOfFUDataRefusedAtTheEdge(t *testing.T) {
	w := newWorld(t)
	social, _ := w.gateway(brokertest.Social, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := social.events(ctx)

	police := w.d.Dial(t, brokertest.Police)
	at := time.Now().Add(-time.Hour).UTC()
	dctx, dcancel := context.WithTimeout(ctx, brokertest.ShutdownTimeout)
	defer dcancel()
	rcpt, err := police.Disclose(dctx, brokertest.Social, agency.Claims{
		Category: "preliminary_investigation",
		Subject:  &agency.Subject{Pseudonym: "elev-4711", BirthDate: "2012-03-04"},
		FU: &agency.FU{ConcernReportMade: true,
			CaseAssessment: &agency.Judgement{By: "Förundersökningsledare Ny", At: at, Outcome: "no_harm", Reason: "skadar inte utredningen"}},
	}, []byte("Förhör med eleven den 3 mars."))
	if err != nil {
		t.Fatalf("the police's FU disclosure: %v", err)
	}
	if !slices.Contains(rcpt.Obligations, agency.ObligationDoNotForward) {
		t.Fatalf("the FU disclosure came without %q: %+v", agency.ObligationDoNotForward, rcpt)
	}
	waitEvent(t, events, gateway.EventDelivery, rcpt.MessageID)

	r := social.do(call{method: http.MethodGet, path: "/v1/inbox/" + rcpt.MessageID})
	var got struct {
		MayForward  bool     `json:"may_forward"`
		Obligations []string `json:"obligations"`
		Decision    gateway.Decision
	}
	if r.decode(t, &got); got.MayForward || !slices.Contains(got.Decision.Obligations, agency.ObligationDoNotForward) {
		t.Fatalf("GET /v1/inbox/{id}: %s", r.body)
	}

	body := mustJSON(t, map[string]any{
		"to": brokertest.School, "kind": "disclosure",
		"claims": map[string]any{"category": "preliminary_investigation", "forwarded_from": []string{rcpt.MessageID},
			"subject": map[string]any{"pseudonym": "elev-4711"}},
		"text": "Förhör med eleven den 3 mars.",
	})
	r = social.do(call{method: http.MethodPost, path: "/v1/messages", body: body})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("forward of FU data: %d %s", r.status, r.body)
	}
	var res struct {
		ID       string
		Decision gateway.Decision
	}
	r.decode(t, &res)
	d := res.Decision
	if d.Allow || d.DecidedBy != "gateway" || d.ErrorCode != "forward_not_allowed" || res.ID != "" ||
		!slices.Contains(d.Obligations, agency.ObligationDoNotForward) || len(d.Reasons) != 1 ||
		!strings.Contains(d.Reasons[0], "OSL 18 kap.") || !strings.Contains(d.Reasons[0], rcpt.MessageID) {
		t.Fatalf("refusal: %s", r.body)
	}
	if names, err := readDirNames(filepath.Join(w.d.Home(brokertest.Social), gateway.StateDir, "messages")); err != nil || len(names) != 0 {
		t.Errorf("the refused forward was recorded as sent: %v %v", names, err)
	}
}

// TestConsents records, reads and withdraws a consent through the gateway;
// a child named by personnummer is recorded by pseudonym only.
func TestConsents(t *testing.T) {
	w := newWorld(t)
	social, _ := w.gateway(brokertest.Social, nil)
	at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	rec := func(id string, categories ...string) []byte {
		return mustJSON(t, map[string]any{
			"id": id, "subject": map[string]any{"personnummer": "20120304-2385"},
			"categories": categories, "recipients": []string{brokertest.School}, "purpose": "samordnat stöd i skolan",
			"given_by":       []map[string]any{{"role": "guardian", "by": "mamma", "at": at}, {"role": "guardian", "by": "pappa", "at": at}},
			"guardian_count": 2,
			"maturity_assessment": map[string]any{"by": "Malin Ellström", "at": at, "outcome": "child_consent_not_required",
				"reason": "barnet är tio år"},
			"documented": map[string]any{"how": "written", "by": "Malin Ellström", "at": at},
			"valid_from": at,
		})
	}
	r := social.do(call{method: http.MethodPost, path: "/v1/consents", body: rec("samtycke-17", "case_details")})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /v1/consents: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "2385") {
		t.Errorf("the personnummer was recorded: %s", r.body)
	}
	var res struct {
		Ref     string
		Consent struct {
			Subject struct {
				Pseudonym string
				BirthDate string `json:"birth_date"`
			}
			WithdrawnAt *time.Time `json:"withdrawn_at"`
		}
	}
	r.decode(t, &res)
	if res.Ref != brokertest.Social+".samtycke-17" || !strings.HasPrefix(res.Consent.Subject.Pseudonym, "ps-") || res.Consent.Subject.BirthDate != "2012-03-04" {
		t.Fatalf("recorded: %s", r.body)
	}
	for _, tc := range []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"again", call{method: "POST", path: "/v1/consents", body: rec("samtycke-17", "case_details")}, 409, "consent_exists"},
		{"a general waiver", call{method: "POST", path: "/v1/consents", body: rec("samtycke-18", "*")}, 422, "consent_invalid"},
		{"unknown", call{method: "GET", path: "/v1/consents/samtycke-99"}, 404, "not_found"},
		{"another agency's", call{method: "GET", path: "/v1/consents/rosengard-skola.samtycke-17"}, 404, "not_found"},
		{"withdraw unknown", call{method: "POST", path: "/v1/consents/samtycke-99/withdraw"}, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			social.t = t
			defer func() { social.t = w.t }()
			r := social.do(tc.c)
			if r.status != tc.status || r.errorCode(t) != tc.code {
				t.Errorf("answer %d, want %d %s: %s", r.status, tc.status, tc.code, r.body)
			}
		})
	}
	for _, path := range []string{"/v1/consents/samtycke-17", "/v1/consents/" + res.Ref} {
		if r := social.do(call{method: http.MethodGet, path: path}); r.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}

	// Social services disclose under the consent; the school may not pass
	// on what it received under it.
	school, _ := w.gateway(brokertest.School, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := school.events(ctx)
	r = social.do(call{method: http.MethodPost, path: "/v1/messages", body: mustJSON(t, map[string]any{
		"to": brokertest.School, "kind": "disclosure",
		"claims": map[string]any{"category": "case_details", "subject": map[string]any{"personnummer": "20120304-2385"},
			"purpose": "samordnat stöd i skolan", "consent_ref": res.Ref},
		"text": "Familjen har stöd av socialtjänsten sedan i höstas.",
	})})
	var sent sendResult
	if r.decode(t, &sent); r.status != http.StatusCreated || sent.Receipt.Rule != "R-CONSENT" ||
		!slices.Contains(sent.Receipt.Obligations, agency.ObligationWithinConsentScope) {
		t.Fatalf("disclosure under the consent: %d %s", r.status, r.body)
	}
	waitEvent(t, events, gateway.EventDelivery, sent.ID)
	r = school.do(call{method: http.MethodPost, path: "/v1/messages", body: mustJSON(t, map[string]any{
		"to": brokertest.Police, "kind": "disclosure",
		"claims": map[string]any{"category": "case_details", "forwarded_from": []string{sent.ID}},
		"text":   "Familjen har stöd av socialtjänsten sedan i höstas.",
	})})
	var refused struct{ Decision gateway.Decision }
	if r.decode(t, &refused); r.status != http.StatusUnprocessableEntity || refused.Decision.DecidedBy != "gateway" ||
		refused.Decision.ErrorCode != "forward_not_allowed" || !slices.Contains(refused.Decision.Obligations, agency.ObligationWithinConsentScope) ||
		!strings.Contains(strings.Join(refused.Decision.Reasons, " "), "OSL 12 kap.") {
		t.Fatalf("forward of data received under a consent: %d %s", r.status, r.body)
	}

	r = social.do(call{method: http.MethodPost, path: "/v1/consents/samtycke-17/withdraw"})
	if r.decode(t, &res); r.status != http.StatusOK || res.Consent.WithdrawnAt == nil {
		t.Fatalf("withdraw: %d %s", r.status, r.body)
	}
	r = social.do(call{method: http.MethodPost, path: "/v1/consents/samtycke-17/withdraw", body: []byte(`{"at":"` + at + `"}`)})
	if r.status != http.StatusConflict || r.errorCode(t) != "consent_withdrawn" {
		t.Errorf("withdraw again: %d %s", r.status, r.body)
	}
}

// TestDesk: a desk given in the configuration is served under /desk/, with
// the whole path and without the API's authentication, which it does
// itself; it can act through the gateway's connection and inbox.
func TestDesk(t *testing.T) {
	w := newWorld(t)
	var connected bool
	_, srv := w.gateway(brokertest.Police, func(c *gateway.Config) {
		c.NewDesk = func(s *gateway.Server) (http.Handler, error) {
			connected = s.Agency() != nil && s.Inbox() != nil && s.AgencyID() == brokertest.Police &&
				s.Directory() != nil && s.PseudonymKey() != nil && s.File().Listen == ""
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Type", "text/plain")
				io.WriteString(rw, "desk "+r.URL.Path)
			}), nil
		}
	})
	if !connected {
		t.Fatal("the desk was made without the gateway's connection and inbox")
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL + "/desk/inkorg")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "desk /desk/inkorg" {
		t.Fatalf("GET /desk/inkorg: %s %q", resp.Status, b)
	}
}

// TestWebhook: every event is posted to the webhook, signed with
// HMAC-SHA256 as the specification says.
func TestWebhook(t *testing.T) {
	w := newWorld(t)
	secret := "a webhook secret of the school's case system"
	got := make(chan gateway.Event, 16)
	spec := w.spec
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("webhook: %v", err)
			return
		}
		ts, mac, ok := strings.Cut(r.Header.Get(gateway.HeaderSignature), ",v1=")
		ts, _ = strings.CutPrefix(ts, "t=")
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		want := hex.EncodeToString(m.Sum(nil))
		if !ok || !hmac.Equal([]byte(mac), []byte(want)) {
			t.Errorf("webhook: signature %q does not verify", r.Header.Get(gateway.HeaderSignature))
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Hour {
			t.Errorf("webhook: signature time %q", ts)
		}
		if err := spec.ValidateEvent(body); err != nil {
			t.Errorf("webhook: the body is not an Event: %v\n%s", err, body)
		}
		var e gateway.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("webhook: %v", err)
		}
		if r.Header.Get(gateway.HeaderEventType) != e.Type || r.Header.Get(gateway.HeaderEventID) != strconv.FormatUint(e.Seq, 10) {
			t.Errorf("webhook headers %v for %+v", r.Header, e)
		}
		got <- e
	}))
	defer hook.Close()
	school, _ := w.gateway(brokertest.School, func(c *gateway.Config) {
		c.File.Webhook = &gateway.WebhookConfig{URL: hook.URL, Secret: secret}
	})
	r := school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t)})
	var sent sendResult
	if r.decode(t, &sent); r.status != http.StatusCreated {
		t.Fatalf("POST /v1/messages: %d %s", r.status, r.body)
	}
	if e := waitEvent(t, got, gateway.EventReceipt, sent.ID); !e.Allow || e.Rule != "R-CONCERN" || e.To != brokertest.Social {
		t.Errorf("webhook event: %+v", e)
	}
}

// TestClientCertificate: a calling system may authenticate with a TLS
// client certificate pinned in the configuration file.
func TestClientCertificate(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	ca, err := tlsca.New("gateway test CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	srvPair, err := ca.IssueServer("gateway", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := srvPair.Write(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")); err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient("procapita")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(client.CertPEM)
	sum := sha256.Sum256(block.Bytes)
	fc := gateway.FileConfig{
		HTTPS:   &gateway.HTTPSConfig{Cert: filepath.Join(dir, "server.crt"), Key: filepath.Join(dir, "server.key"), ClientCA: caFile},
		Systems: []gateway.SystemConfig{{Name: "procapita", ClientCertSHA256: hex.EncodeToString(sum[:])}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
	defer cancel()
	srv, err := gateway.New(ctx, gateway.Config{Agency: brokertest.Social, Home: w.d.Home(brokertest.Social),
		DirectoryFile: layout.Directory(w.d.Data), NATSURL: w.url, File: fc,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cert, err := tls.X509KeyPair(client.CertPEM, client.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(block.Bytes)
	withCert := &api{t: t, spec: w.spec, base: "https://" + ln.Addr().String(), certs: []*x509.Certificate{leaf},
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}}
	if r := withCert.do(call{method: http.MethodGet, path: "/v1/inbox", noAuth: true}); r.status != http.StatusOK {
		t.Fatalf("GET /v1/inbox with the client certificate: %d %s", r.status, r.body)
	}
	without := &api{t: t, spec: w.spec, base: withCert.base,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	if r := without.do(call{method: http.MethodGet, path: "/v1/inbox", noAuth: true, invalid: true}); r.status != http.StatusUnauthorized {
		t.Fatalf("GET /v1/inbox without credentials: %d %s", r.status, r.body)
	}
}

// restartable is a broker that a test stops and starts again on the same
// data and NATS port.
type restartable struct {
	t      *testing.T
	d      *brokertest.Deployment
	listen string
	svc    *service.Service
}

func (b *restartable) start() {
	b.t.Helper()
	svc, err := b.d.Launch(context.Background(), func(c *service.Config) {
		if b.listen != "" {
			c.NATSListen = b.listen
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	b.svc = svc
	b.listen = strings.TrimPrefix(svc.NATSURL(), "nats://")
}

func (b *restartable) stop() {
	b.t.Helper()
	if b.svc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
	defer cancel()
	if err := b.svc.Shutdown(ctx); err != nil {
		b.t.Errorf("broker shutdown: %v", err)
	}
	b.svc = nil
}

// TestIdempotencyAcrossRestarts: the same Idempotency-Key gets the same
// answer, also after the gateway and the broker were restarted; another
// request under the key is refused; and a message recorded but perhaps not
// published before a crash is published, as the same envelope, when the
// gateway starts again.
func TestIdempotencyAcrossRestarts(t *testing.T) {
	d := brokertest.NewDeployment(t, brokertest.Options{})
	b := &restartable{t: t, d: d}
	b.start()
	t.Cleanup(b.stop)
	w := &world{t: t, d: d, spec: loadSpec(t), url: "nats://" + b.listen}

	school, srv := w.gateway(brokertest.School, nil)
	key := map[string]string{"Idempotency-Key": "case-4711-orosanmalan-1"}
	first := school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t), header: key})
	if first.status != http.StatusCreated || first.header.Get(gateway.HeaderReplayed) != "" {
		t.Fatalf("first POST: %d %s", first.status, first.body)
	}
	again := school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t), header: key})
	if again.status != first.status || string(again.body) != string(first.body) || again.header.Get(gateway.HeaderReplayed) != "true" {
		t.Fatalf("the same key again: %d %s, want %d %s", again.status, again.body, first.status, first.body)
	}
	other := mustJSON(t, map[string]any{"to": brokertest.Social, "kind": "concern_report",
		"claims": map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-4712", "age": 12}}, "text": "En annan elev."})
	if r := school.do(call{method: http.MethodPost, path: "/v1/messages", body: other, header: key}); r.status != http.StatusConflict || r.errorCode(t) != "idempotency_conflict" {
		t.Fatalf("another request under the key: %d %s", r.status, r.body)
	}

	// A message sealed and recorded, whose publication a crash may have
	// cut off: as the gateway leaves it on disk before it publishes.
	pending := mustJSON(t, map[string]any{"to": brokertest.Social, "kind": "concern_report",
		"claims": map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-4713", "age": 11}}, "text": "Tredje eleven."})
	raw, pendingID, err := w.d.Dial(t, brokertest.School).Seal(agency.Message{To: brokertest.Social, Kind: "concern_report",
		Metadata: map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-4713", "age": 11}}, Payload: []byte("Tredje eleven.")})
	if err != nil {
		t.Fatal(err)
	}
	pendingKey := "case-4713-orosanmalan-1"
	writeRecord(t, w.d.Home(brokertest.School), pendingKey, pending, pendingID, raw)

	// Both restart: the broker on the same data and port, the gateway on
	// the same home.
	srv.Close()
	b.stop()
	b.start()
	school2, _ := w.gateway(brokertest.School, nil)
	after := school2.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t), header: key})
	if after.status != first.status || string(after.body) != string(first.body) || after.header.Get(gateway.HeaderReplayed) != "true" {
		t.Fatalf("the same key after restarts: %d %s, want %d %s", after.status, after.body, first.status, first.body)
	}
	r := school2.do(call{method: http.MethodPost, path: "/v1/messages", body: pending, header: map[string]string{"Idempotency-Key": pendingKey}})
	var res sendResult
	if r.decode(t, &res); r.status != http.StatusCreated || res.ID != pendingID || res.Receipt.Outcome != "delivered" {
		t.Fatalf("the message recorded before the crash: %d %s", r.status, r.body)
	}
	// The broker still delivers new messages to the restarted gateway.
	r = school2.do(call{method: http.MethodPost, path: "/v1/messages", body: other, header: map[string]string{"Idempotency-Key": "case-4712"}})
	if r.status != http.StatusCreated {
		t.Fatalf("a new message after restarts: %d %s", r.status, r.body)
	}
}

// writeRecord leaves on disk what the gateway writes before it publishes a
// message sent under key: the key's record, then the message's, sealed.
func writeRecord(t *testing.T, home, key string, body []byte, id string, envelope []byte) {
	t.Helper()
	name := sha256.Sum256([]byte(gateway.DefaultSystem + "\x00" + key))
	req := sha256.Sum256(body)
	dir := filepath.Join(home, gateway.StateDir)
	k := mustJSON(t, map[string]string{"message_id": id, "request_sha256": hex.EncodeToString(req[:])})
	if err := os.WriteFile(filepath.Join(dir, "keys", hex.EncodeToString(name[:])+".json"), k, 0o600); err != nil {
		t.Fatal(err)
	}
	m := mustJSON(t, map[string]any{"id": id, "system": gateway.DefaultSystem, "request_sha256": hex.EncodeToString(req[:]),
		"envelope": envelope, "state": "sealed", "at": time.Now().UTC()})
	if err := os.WriteFile(filepath.Join(dir, "messages", id+".json"), m, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDecisionLaterThanTheAnswer: when the decision takes longer than the
// gateway waits, the answer is 202, and the decision is had afterwards from
// the receipt event, GET /v1/messages/{id} and a repeat under the same key.
func TestDecisionLaterThanTheAnswer(t *testing.T) {
	w := newWorld(t)
	school, _ := w.gateway(brokertest.School, func(c *gateway.Config) { c.ReceiptWait = time.Nanosecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := school.events(ctx)
	key := map[string]string{"Idempotency-Key": "case-4711-later"}
	r := school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t), header: key})
	var pending struct{ ID, State string }
	if r.decode(t, &pending); r.status != http.StatusAccepted && r.status != http.StatusCreated {
		t.Fatalf("POST /v1/messages: %d %s", r.status, r.body)
	}
	if r.status == http.StatusAccepted && pending.State != "sent" {
		t.Fatalf("202: %s", r.body)
	}
	waitEvent(t, events, gateway.EventReceipt, pending.ID)
	r = school.do(call{method: http.MethodGet, path: "/v1/messages/" + pending.ID})
	var st struct {
		State  string
		Status int
		Result sendResult
	}
	if r.decode(t, &st); st.State != "decided" || st.Status != http.StatusCreated || st.Result.Receipt.Rule != "R-CONCERN" {
		t.Fatalf("GET /v1/messages/{id}: %d %s", r.status, r.body)
	}
	r = school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t), header: key})
	if r.status != http.StatusCreated || r.header.Get(gateway.HeaderReplayed) != "true" {
		t.Fatalf("the same key once decided: %d %s", r.status, r.body)
	}
	// Another calling system does not see this system's messages.
	other := *school
	other.token = "0123456789abcdef0123456789abcdef"
	if r := other.do(call{method: http.MethodGet, path: "/v1/messages/" + pending.ID}); r.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/messages/{id} with another token: %d %s", r.status, r.body)
	}
}
