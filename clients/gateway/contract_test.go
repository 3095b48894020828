package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway/gatewaytest"
)

func loadSpec(t *testing.T) *gatewaytest.Spec {
	t.Helper()
	s, err := gatewaytest.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenAPIValid: the specification is a valid OpenAPI 3.1 document.
func TestOpenAPIValid(t *testing.T) {
	s := loadSpec(t)
	if !s.Doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1", s.Doc.OpenAPI)
	}
	for _, p := range []string{"/v1/messages", "/v1/inbox", "/v1/inbox/{id}", "/v1/inbox/{id}/handled", "/v1/events",
		"/v1/consents", "/v1/consents/{id}", "/v1/consents/{id}/withdraw"} {
		if s.Doc.Paths.Find(p) == nil {
			t.Errorf("openapi.yaml has no path %s", p)
		}
	}
}

// api calls one gateway and validates every request and response against
// the specification.
type api struct {
	t      *testing.T
	spec   *gatewaytest.Spec
	base   string
	token  string
	client *http.Client
	// certs is the client certificate the client presents, if any.
	certs []*x509.Certificate
}

// reply is a validated response.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

// errorCode returns the code of an error answer.
func (r reply) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	r.decode(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error answer %d has no message: %s", r.status, r.body)
	}
	return e.Error.Code
}

// call is a request whose validity against the spec is expected.
type call struct {
	method, path string
	body         []byte
	header       map[string]string
	// invalid: the request is meant to break the specification (a hostile
	// request), and the validator must say so.
	invalid bool
	noAuth  bool
}

func (a *api) do(c call) reply {
	a.t.Helper()
	req := a.request(c)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	a.validateResponse(c, req, resp.StatusCode, resp.Header, body, false)
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

func (a *api) request(c call) *http.Request {
	a.t.Helper()
	req, err := http.NewRequest(c.method, a.base+c.path, bytes.NewReader(c.body))
	if err != nil {
		a.t.Fatal(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	err = a.spec.ValidateRequest(a.withCerts(req), c.body)
	switch {
	case c.invalid && err == nil:
		a.t.Errorf("%s %s: the validator accepts a request meant to break the specification", c.method, c.path)
	case !c.invalid && err != nil:
		a.t.Errorf("%s %s: the request does not match the specification: %v", c.method, c.path, err)
	}
	return req
}

// withCerts returns req as the gateway sees it: with the client's
// certificate, if any.
func (a *api) withCerts(req *http.Request) *http.Request {
	if a.certs == nil {
		return req
	}
	c := req.Clone(req.Context())
	c.TLS = &tls.ConnectionState{PeerCertificates: a.certs}
	return c
}

// validateResponse checks an answer against the specification.
func (a *api) validateResponse(c call, req *http.Request, status int, header http.Header, body []byte, stream bool) {
	a.t.Helper()
	if err := a.spec.ValidateResponse(a.withCerts(req), c.body, status, header, body, stream); err != nil {
		a.t.Errorf("%s %s: answer %d does not match the specification: %v\n%s", c.method, c.path, status, err, body)
	}
}

// events opens GET /v1/events and returns a channel of its events, each
// validated against the Event schema.
func (a *api) events(ctx context.Context) <-chan gateway.Event { return a.eventsAfter(ctx, "") }

// eventsAfter is events resumed after the event numbered lastID.
func (a *api) eventsAfter(ctx context.Context, lastID string) <-chan gateway.Event {
	a.t.Helper()
	c := call{method: http.MethodGet, path: "/v1/events"}
	if lastID != "" {
		c.header = map[string]string{"Last-Event-ID": lastID}
	}
	req := a.request(c).WithContext(ctx)
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("GET /v1/events: %v", err)
	}
	a.validateResponse(c, req, resp.StatusCode, resp.Header, nil, true)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		a.t.Fatalf("GET /v1/events: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	out := make(chan gateway.Event, 16)
	spec, t := a.spec, a.t
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			if err := spec.ValidateEvent([]byte(data)); err != nil {
				t.Errorf("event does not match the Event schema: %v\n%s", err, data)
			}
			var e gateway.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Errorf("event: %v", err)
				return
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// waitEvent waits for an event of type typ about message id.
func waitEvent(t *testing.T, c <-chan gateway.Event, typ, id string) gateway.Event {
	t.Helper()
	timeout := time.NewTimer(brokertest.ShutdownTimeout)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-c:
			if !ok {
				t.Fatalf("the event stream ended before the %s event of %s", typ, id)
			}
			if e.Type == typ && e.ID == id {
				return e
			}
		case <-timeout.C:
			t.Fatalf("no %s event of %s", typ, id)
		}
	}
}

// world is a real broker and gateways of the demo agencies.
type world struct {
	t    *testing.T
	d    *brokertest.Deployment
	spec *gatewaytest.Spec
	url  string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	d := brokertest.NewDeployment(t, brokertest.Options{})
	svc := d.Start(t, nil)
	return &world{t: t, d: d, spec: loadSpec(t), url: svc.NATSURL()}
}

// gateway starts agency id's gateway in-process with cfg's settings, on a
// loopback port, and returns a validating client of it.
func (w *world) gateway(id string, mod func(*gateway.Config)) (*api, *gateway.Server) {
	w.t.Helper()
	cfg := gateway.Config{Agency: id, Home: w.d.Home(id), DirectoryFile: layout.Directory(w.d.Data), NATSURL: w.url,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
	defer cancel()
	srv, err := gateway.New(ctx, cfg)
	if err != nil {
		w.t.Fatalf("gateway of %s: %v", id, err)
	}
	ts := httptest.NewServer(srv.Handler())
	w.t.Cleanup(ts.Close)
	w.t.Cleanup(func() { srv.Close() })
	tok, created, err := gateway.EnsureToken(cfg.Home)
	if err != nil || created {
		w.t.Fatalf("the gateway did not write its token on start: created now %v, %v", created, err)
	}
	return &api{t: w.t, spec: w.spec, base: ts.URL, token: tok, client: ts.Client()}, srv
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// concernReport is the body of the README's first curl call.
func concernReport(t *testing.T) []byte {
	return mustJSON(t, map[string]any{
		"to": brokertest.Social, "kind": "concern_report",
		"claims": map[string]any{"category": "concern",
			"subject": map[string]any{"pseudonym": "elev-4711", "birth_date": "2013-05-02"}, "purpose": "orosanmälan"},
		"text": "Eleven berättar om våld i hemmet.",
	})
}

// sendResult is the answer of POST /v1/messages.
type sendResult struct {
	ID      string `json:"id"`
	Receipt struct {
		MessageID   string   `json:"message_id"`
		Outcome     string   `json:"outcome"`
		Rule        string   `json:"rule"`
		Reasons     []string `json:"reasons"`
		Obligations []string `json:"obligations"`
	} `json:"receipt"`
	Decision gateway.Decision `json:"decision"`
}

// TestConcernReportDelivered is the exchange of the README's tour: the
// school's gateway sends a report of concern, social services' gateway
// announces it, returns the decrypted text with the decision, and marks it
// handled.
func TestConcernReportDelivered(t *testing.T) {
	w := newWorld(t)
	school, _ := w.gateway(brokertest.School, nil)
	social, _ := w.gateway(brokertest.Social, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	socialEvents := social.events(ctx)
	schoolEvents := school.events(ctx)

	r := school.do(call{method: http.MethodPost, path: "/v1/messages", body: concernReport(t)})
	if r.status != http.StatusCreated {
		t.Fatalf("POST /v1/messages: %d %s", r.status, r.body)
	}
	var sent sendResult
	r.decode(t, &sent)
	if sent.Receipt.Outcome != "delivered" || sent.Receipt.Rule != "R-CONCERN" || sent.Receipt.MessageID != sent.ID ||
		!sent.Decision.Allow || sent.Decision.DecidedBy != "broker" {
		t.Fatalf("receipt: %s", r.body)
	}
	if e := waitEvent(t, schoolEvents, gateway.EventReceipt, sent.ID); !e.Allow || e.Rule != "R-CONCERN" {
		t.Errorf("receipt event: %+v", e)
	}
	e := waitEvent(t, socialEvents, gateway.EventDelivery, sent.ID)
	if e.From != brokertest.School || e.Kind != "concern_report" {
		t.Errorf("delivery event: %+v", e)
	}
	// A client that lost the stream resumes after the last event it saw.
	resumed := social.eventsAfter(ctx, strconv.FormatUint(e.Seq-1, 10))
	if again := waitEvent(t, resumed, gateway.EventDelivery, sent.ID); again.Seq != e.Seq {
		t.Errorf("resumed with the event %d, want %d", again.Seq, e.Seq)
	}

	r = social.do(call{method: http.MethodGet, path: "/v1/inbox"})
	var list []struct {
		ID, From, Kind string
		Handled        bool
	}
	r.decode(t, &list)
	if r.status != http.StatusOK || len(list) != 1 || list[0].ID != sent.ID || list[0].From != brokertest.School || list[0].Kind != "concern_report" {
		t.Fatalf("GET /v1/inbox: %d %s", r.status, r.body)
	}

	r = social.do(call{method: http.MethodGet, path: "/v1/inbox/" + sent.ID})
	var got struct {
		ID, From, Kind, Text string
		Decision             gateway.Decision
	}
	r.decode(t, &got)
	if r.status != http.StatusOK || got.Text != "Eleven berättar om våld i hemmet." || got.From != brokertest.School ||
		!got.Decision.Allow || got.Decision.Rule != "R-CONCERN" || got.Decision.Basis == "" {
		t.Fatalf("GET /v1/inbox/{id}: %d %s", r.status, r.body)
	}

	r = social.do(call{method: http.MethodPost, path: "/v1/inbox/" + sent.ID + "/handled"})
	if r.status != http.StatusOK {
		t.Fatalf("POST handled: %d %s", r.status, r.body)
	}
	if r = social.do(call{method: http.MethodGet, path: "/v1/inbox"}); string(bytes.TrimSpace(r.body)) != "[]" {
		t.Errorf("the handled message is still open: %s", r.body)
	}
	r = social.do(call{method: http.MethodGet, path: "/v1/inbox?handled=true"})
	if r.decode(t, &list); len(list) != 1 || !list[0].Handled {
		t.Errorf("GET /v1/inbox?handled=true: %s", r.body)
	}
	// The sender may ask what became of it.
	r = school.do(call{method: http.MethodGet, path: "/v1/messages/" + sent.ID})
	var st struct {
		State  string
		Status int
	}
	if r.decode(t, &st); r.status != http.StatusOK || st.State != "decided" || st.Status != http.StatusCreated {
		t.Errorf("GET /v1/messages/{id}: %d %s", r.status, r.body)
	}
}

// TestDisallowedDisclosure: the school's gateway answers a disclosure the
// law does not allow with 422 and the broker's reasons, in its order.
func TestDisallowedDisclosure(t *testing.T) {
	w := newWorld(t)
	school, _ := w.gateway(brokertest.School, nil)
	body := mustJSON(t, map[string]any{
		"to": brokertest.Police, "kind": "disclosure",
		"claims": map[string]any{"category": "health", "subject": map[string]any{"pseudonym": "elev-4711", "age": 13}},
		"text":   "Elevhälsans journal",
	})
	r := school.do(call{method: http.MethodPost, path: "/v1/messages", body: body})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("POST /v1/messages: %d %s", r.status, r.body)
	}
	var res sendResult
	r.decode(t, &res)
	if res.Decision.Allow || res.Decision.DecidedBy != "broker" || len(res.Decision.Reasons) == 0 || res.ID == "" {
		t.Fatalf("refusal: %s", r.body)
	}
	if strings.Join(res.Decision.Reasons, "\n") != strings.Join(res.Receipt.Reasons, "\n") {
		t.Errorf("the decision's reasons are not the receipt's, in its order:\n%v\n%v", res.Decision.Reasons, res.Receipt.Reasons)
	}
	if !strings.Contains(strings.Join(res.Decision.Reasons, "\n"), "no rule allows this message") {
		t.Errorf("reasons: %v", res.Decision.Reasons)
	}
}

// TestHostileRequests: malformed, oversize, unauthenticated and
// misaddressed requests get clear JSON errors, and nothing is sent.
func TestHostileRequests(t *testing.T) {
	w := newWorld(t)
	school, _ := w.gateway(brokertest.School, func(c *gateway.Config) { c.MaxBody = 64 << 10 })
	msg := func(m map[string]any) []byte {
		base := map[string]any{"to": brokertest.Social, "kind": "concern_report",
			"claims": map[string]any{"category": "concern"}, "text": "x"}
		for k, v := range m {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return mustJSON(t, base)
	}
	for _, tc := range []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"bad JSON", call{method: "POST", path: "/v1/messages", body: []byte(`{"to": "soc-malmo",`), invalid: true}, 400, "bad_json"},
		{"unknown field", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"tō": 1}), invalid: true}, 400, "bad_json"},
		{"two JSON values", call{method: "POST", path: "/v1/messages", body: append(msg(nil), []byte(`{}`)...)}, 400, "bad_json"},
		{"oversize body", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"text": strings.Repeat("a", 100<<10)})}, 413, "too_large"},
		{"no token", call{method: "POST", path: "/v1/messages", body: msg(nil), noAuth: true, invalid: true}, 401, "unauthorized"},
		{"wrong token", call{method: "GET", path: "/v1/inbox", header: map[string]string{"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}}, 401, "unauthorized"},
		{"unknown recipient", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"to": "skola-okand"})}, 400, "unknown_recipient"},
		{"unknown kind", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"kind": "gossip"}), invalid: true}, 400, "bad_request"},
		{"text and payload", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"payload_base64": "eA=="}), invalid: true}, 400, "bad_request"},
		{"no content", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"text": nil}), invalid: true}, 400, "bad_request"},
		{"claims not an object", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"claims": []string{"concern"}}), invalid: true}, 400, "bad_metadata"},
		{"forwarded_from not ids", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"claims": map[string]any{"category": "concern", "forwarded_from": []string{"../x"}}}), invalid: true}, 400, "bad_metadata"},
		{"bad personnummer", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"claims": map[string]any{"category": "concern", "subject": map[string]any{"personnummer": "20130502-0000"}}})}, 400, "bad_metadata"},
		{"bad basis", call{method: "POST", path: "/v1/messages", body: msg(map[string]any{"basis": "LUB 4 §"}), invalid: true}, 400, "bad_metadata"},
		{"bad idempotency key", call{method: "POST", path: "/v1/messages", body: msg(nil), header: map[string]string{"Idempotency-Key": "a key with spaces"}, invalid: true}, 400, "bad_request"},
		{"unknown message", call{method: "GET", path: "/v1/inbox/0123456789abcdef0123456789abcdef"}, 404, "not_found"},
		{"not a message id", call{method: "GET", path: "/v1/inbox/..%2f..%2fsigning.key"}, 404, "not_found"},
		{"unknown path", call{method: "GET", path: "/v1/nothing", invalid: true}, 404, "not_found"},
		{"wrong method", call{method: "DELETE", path: "/v1/inbox", invalid: true}, 405, "method_not_allowed"},
		{"bad handled filter", call{method: "GET", path: "/v1/inbox?handled=maybe", invalid: true}, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			school.t = t
			r := school.do(tc.c)
			if r.status != tc.status {
				t.Fatalf("answer %d, want %d: %s", r.status, tc.status, r.body)
			}
			if code := r.errorCode(t); code != tc.code {
				t.Errorf("error code %q, want %q: %s", code, tc.code, r.body)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	school.t = t
	// Nothing of the above was sent.
	if entries, err := readDirNames(w.d.Home(brokertest.School) + "/gateway/messages"); err != nil || len(entries) != 0 {
		t.Errorf("records of sent messages after only refused requests: %v %v", entries, err)
	}
}

// readDirNames lists a folder.
func readDirNames(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, err
}
