package service_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
)

// opsClient talks to the broker's HTTP listener as curl would: it never
// follows redirects and keeps no cookies of its own.
type opsClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newOpsClient(t *testing.T, w *world) *opsClient {
	return &opsClient{t: t, base: "http://" + w.svc.HTTPAddr(), http: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request and returns the response with its body read.
func (c *opsClient) do(method, path string, body io.Reader, header map[string]string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, string(b)
}

func opsToken(t *testing.T, w *world) string {
	t.Helper()
	tok, err := provision.LoadOpsToken(layout.OpsToken(w.data))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestDashboardNeedsToken: GET / without the operators' token is refused
// with 401 and a bearer challenge, with it the dashboard is served with its
// security headers; a browser signs in once (form or ?token=) and gets an
// HttpOnly, SameSite=Strict session cookie that is not the token. Hostile
// requests get clear errors. A data directory from before the dashboard
// gets its token when the broker starts.
func TestDashboardNeedsToken(t *testing.T) {
	w := provisionWorld(t)
	// As a data directory made before the dashboard: no token yet.
	if err := os.Remove(layout.OpsToken(w.data)); err != nil {
		t.Fatal(err)
	}
	w.start()
	t.Cleanup(w.stop)
	fi, err := os.Stat(layout.OpsToken(w.data))
	if err != nil {
		t.Fatalf("the broker made no token at start: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	tok := opsToken(t, w)
	c := newOpsClient(t, w)
	bearer := map[string]string{"Authorization": "Bearer " + tok}

	// curl without the token, and with a wrong one.
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer " + tok + "x"}, {"Authorization": "Basic " + tok}, {"Authorization": tok}} {
		resp, body := c.do("GET", "/", nil, h)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("GET / with %v: %s, WWW-Authenticate %q", h, resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
		if !strings.Contains(body, "Authorization: Bearer") || strings.Contains(body, tok) {
			t.Errorf("401 body does not say what to send, or holds the token: %q", body)
		}
	}
	// A browser without the token gets the sign-in form, still with 401.
	resp, body := c.do("GET", "/", nil, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `name="token"`) || strings.Contains(body, `id="allowed-total"`) {
		t.Fatalf("browser without token: %s\n%s", resp.Status, body)
	}
	for _, path := range []string{"/ops/panel", "/ops/api/summary"} {
		if resp, _ := c.do("GET", path, nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %s", path, resp.Status)
		}
	}

	// curl with the token.
	resp, body = c.do("GET", "/", nil, bearer)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `id="allowed-total"`) || !strings.Contains(body, "driftöversikt") {
		t.Fatalf("GET / with token: %s %s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", resp.Header)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
		t.Errorf("the page has inline script or style, which its CSP forbids")
	}
	if strings.Contains(body, tok) {
		t.Error("the page holds the token")
	}
	resp, body = c.do("GET", "/ops/api/summary", nil, bearer)
	var sum struct {
		Decisions struct {
			Allowed float64 `json:"allowed_total"`
		} `json:"decisions"`
		Agencies []struct{ ID string } `json:"agencies"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &sum) != nil || len(sum.Agencies) != 4 {
		t.Fatalf("summary: %s %s", resp.Status, body)
	}
	if resp, _ := c.do("GET", "/ops/assets/dashboard.js", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the script is not served: %s", resp.Status)
	}

	// A browser signs in with ?token= and is sent on without it.
	resp, _ = c.do("GET", "/?token="+url.QueryEscape(tok), nil, nil)
	cookie := sessionCookie(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("GET /?token=: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := c.do("GET", "/", nil, map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / with the session cookie: %s", resp.Status)
	}
	// A forged or stretched session is refused.
	exp, mac, _ := strings.Cut(cookie.Value, ".")
	n, _ := strconv.ParseInt(exp, 10, 64)
	for _, forged := range []string{strconv.FormatInt(n+3600, 10) + "." + mac, exp + ".AAAA", tok, ""} {
		if resp, _ := c.do("GET", "/", nil, map[string]string{"Cookie": cookie.Name + "=" + forged}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forged session %q: %s", forged, resp.Status)
		}
	}
	if resp, _ := c.do("GET", "/?token=wrong", nil, nil); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("GET /?token=wrong: %s, cookies %v", resp.Status, resp.Cookies())
	}

	// The sign-in form.
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	resp, _ = c.do("POST", "/ops/login", strings.NewReader("token="+url.QueryEscape(tok)), form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in form: %s", resp.Status)
	}
	sessionCookie(t, resp)
	if resp, _ := c.do("POST", "/ops/login", strings.NewReader("token=wrong"), form); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token: %s", resp.Status)
	}
	crossSite := map[string]string{"Content-Type": form["Content-Type"], "Origin": "http://evil.example"}
	if resp, _ := c.do("POST", "/ops/login", strings.NewReader("token="+url.QueryEscape(tok)), crossSite); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in posted from another site: %s", resp.Status)
	}
	if resp, body := c.do("POST", "/ops/login", strings.NewReader("token="+strings.Repeat("a", 1<<20)), form); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB sign-in form: %s %s", resp.Status, body)
	}
	resp, _ = c.do("POST", "/ops/logout", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign-out: %s, cookies %v", resp.Status, resp.Cookies())
	}

	// Hostile requests get clear errors, and never the page.
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"DELETE", "/", http.StatusMethodNotAllowed},
		{"PUT", "/ops/api/summary", http.StatusMethodNotAllowed},
		{"GET", "/ops/login", http.StatusMethodNotAllowed},
		{"GET", "/ops/nothing", http.StatusNotFound},
		{"GET", "/index.html", http.StatusNotFound},
		{"GET", "/ops/assets/../../service.go", http.StatusTemporaryRedirect}, // to /service.go, which is not found
		{"GET", "/service.go", http.StatusNotFound},
		{"GET", "/ops/assets/missing.js", http.StatusNotFound},
		{"GET", "/ops/assets/", http.StatusNotFound},
		{"GET", "/?" + strings.Repeat("x=1&", 200), http.StatusRequestURITooLong},
	} {
		resp, body := c.do(tc.method, tc.path, nil, bearer)
		if resp.StatusCode != tc.want || strings.Contains(body, `id="allowed-total"`) {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.want)
		}
	}
	// A header beyond the server's limit.
	if resp, _ := c.do("GET", "/", nil, map[string]string{"X-Big": strings.Repeat("a", 2<<20)}); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 2 MiB header: %s", resp.Status)
	}
	// Health and metrics stay open, as before.
	if resp, _ := c.do("GET", "/metrics", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics: %s", resp.Status)
	}
}

// sessionCookie returns the session cookie resp sets, after checking its
// attributes.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name != "sekretess_ops" {
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/ and a lifetime", ck)
		}
		return ck
	}
	t.Fatalf("no session cookie in %v", resp.Header)
	return nil
}

// scrape reads /metrics and returns each series' value by its text as
// /metrics writes it, `name{label="value",…}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sumSeries adds the values of the series of name whose text holds every
// one of the given label pairs.
func sumSeries(m map[string]float64, name string, labels ...string) float64 {
	var t float64
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(k, l)
		}
		if ok {
			t += v
		}
	}
	return t
}
