package webdesk_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/clients/webdesk"
)

const pupil = "20120304-2385" // a test personnummer with a valid check digit

var msgLinkRE = regexp.MustCompile(`href="/desk/m/([0-9a-f]{32})"`)

// awaitMessage reloads the inbox, which fetches from the broker each time,
// until a message whose link text contains what is listed; it returns its id.
func (b *browser) awaitMessage(what string) string {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		status, page := b.do("GET", "", nil)
		if status != http.StatusOK {
			b.t.Fatalf("inbox: %d\n%s", status, page)
		}
		for _, row := range strings.Split(page, "<tr>") {
			if m := msgLinkRE.FindStringSubmatch(row); m != nil && strings.Contains(row, what) {
				return m[1]
			}
		}
	}
	b.t.Fatalf("no %q arrived in the inbox", what)
	return ""
}

// TestSignInRequired: without signing in nothing is shown or sent.
func TestSignInRequired(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser(t, brokertest.School)
	status, _ := b.do("GET", "", nil)
	if status != http.StatusSeeOther {
		t.Fatalf("the inbox without signing in: %d, want a redirect to the sign-in", status)
	}
	status, page := b.do("POST", "concern", url.Values{"to": {brokertest.Social}, "personnummer": {pupil}, "text": {"Oro."}})
	if status != http.StatusUnauthorized || !strings.Contains(page, "inte inloggad") {
		t.Fatalf("a report without signing in: %d\n%s", status, page)
	}
	status, page = b.do("GET", "m/0123456789abcdef0123456789abcdef", nil)
	if status != http.StatusSeeOther {
		t.Fatalf("a message without signing in: %d\n%s", status, page)
	}
}

// TestWrongPassword: a wrong password or an unknown name is refused alike,
// and so is a sign-in without the form's CSRF token; repeated failures lock
// the name for a while.
func TestWrongPassword(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser(t, brokertest.School)
	for _, name := range []string{"rektor", "ingen"} {
		tok := b.csrf("login")
		status, page := b.do("POST", "login", url.Values{"csrf": {tok}, "name": {name}, "password": {"fel"}})
		if status != http.StatusUnauthorized || !strings.Contains(page, "Fel användarnamn eller lösenord") {
			t.Fatalf("%s with a wrong password: %d\n%s", name, status, page)
		}
		if status, _ := b.do("GET", "", nil); status != http.StatusSeeOther {
			t.Fatalf("%s is signed in after a wrong password: %d", name, status)
		}
	}
	status, page := b.do("POST", "login", url.Values{"name": {"rektor"}, "password": {password}})
	if status != http.StatusForbidden || !strings.Contains(page, "CSRF") {
		t.Fatalf("a sign-in without the CSRF token: %d\n%s", status, page)
	}
	for range 4 {
		tok := b.csrf("login")
		b.do("POST", "login", url.Values{"csrf": {tok}, "name": {"rektor"}, "password": {"fel"}})
	}
	tok := b.csrf("login")
	status, page = b.do("POST", "login", url.Values{"csrf": {tok}, "name": {"rektor"}, "password": {password}})
	if status != http.StatusTooManyRequests || !strings.Contains(page, "För många misslyckade inloggningar") {
		t.Fatalf("the right password after five failures: %d\n%s", status, page)
	}
	if strings.Contains(w.logs.String(), password) {
		t.Fatal("a password is in the log")
	}
}

// TestCSRF: a signed-in official's POST without the session's token, with
// another token, or from another site is refused, and nothing is sent.
func TestCSRF(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser(t, brokertest.School)
	b.signIn(brokertest.School)
	form := url.Values{"to": {brokertest.Social}, "personnummer": {pupil}, "text": {"Oro."}}
	status, page := b.do("POST", "concern", form)
	if status != http.StatusForbidden || !strings.Contains(page, "CSRF") {
		t.Fatalf("a report without the CSRF token: %d\n%s", status, page)
	}
	form.Set("csrf", "AAAA")
	if status, _ := b.do("POST", "concern", form); status != http.StatusForbidden {
		t.Fatalf("a report with a wrong CSRF token: %d", status)
	}
	form.Set("csrf", b.csrf("concern"))
	status, page = b.do("POST", "concern", form, "Sec-Fetch-Site", "cross-site")
	if status != http.StatusForbidden || !strings.Contains(page, "annan webbplats") {
		t.Fatalf("a report from another site: %d\n%s", status, page)
	}
	// Logging out needs the token too.
	if status, _ := b.do("POST", "logout", url.Values{}); status != http.StatusForbidden {
		t.Fatalf("a sign-out without the CSRF token: %d", status)
	}
	s := w.browser(t, brokertest.Social)
	s.signIn(brokertest.Social)
	if status, page := s.do("GET", "", nil); status != http.StatusOK || strings.Contains(page, "Orosanmälan –") {
		t.Fatalf("social services received a refused report: %d\n%s", status, page)
	}
}

// TestHeaders: every page forbids caching and framing, and carries a CSP
// without scripts; the session cookie is HttpOnly and SameSite=Strict.
func TestHeaders(t *testing.T) {
	w := newWorld(t, nil)
	res, err := http.Get(w.desks[brokertest.School].URL + "/desk/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	h := res.Header
	if h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("security headers: %v", h)
	}
	b := w.browser(t, brokertest.School)
	tok := b.csrf("login")
	req, _ := http.NewRequest("POST", b.base+"login", strings.NewReader(url.Values{"csrf": {tok}, "name": {"rektor"}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var found bool
	for _, c := range res.Cookies() {
		if c.Name == "desk_session" {
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/desk/" {
				t.Fatalf("session cookie: %+v", c)
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie: %v", res.Header)
	}
}

// TestHostileInput: what an official gets wrong, or an attacker sends, gets
// a clear answer naming the field, and nothing is sent; markup in a message
// is shown as text; no personnummer reaches the log.
func TestHostileInput(t *testing.T) {
	w := newWorld(t, nil)
	b := w.browser(t, brokertest.School)
	b.signIn(brokertest.School)

	status, page := b.post("concern", "concern", url.Values{"to": {brokertest.Social}, "personnummer": {"20120304-2386"}, "text": {"Oro."}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "Personnumret är inte giltigt") ||
		!strings.Contains(page, `aria-describedby="fel-personnummer"`) {
		t.Fatalf("a mistyped personnummer: %d\n%s", status, page)
	}
	if strings.Contains(page, "20120304-2386") {
		t.Fatal("the page shows the personnummer typed back")
	}
	status, page = b.post("concern", "concern", url.Values{"to": {brokertest.Social}, "personnummer": {pupil}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "vad du har sett eller hört") {
		t.Fatalf("a report without text: %d\n%s", status, page)
	}
	status, page = b.do("GET", "m/..%2f..%2fetc%2fpasswd", nil)
	if status != http.StatusNotFound || !strings.Contains(page, "32 hexadecimala tecken") {
		t.Fatalf("a path as a message id: %d\n%s", status, page)
	}
	status, page = b.post("concern", "m/0123456789abcdef0123456789abcdef/answer", url.Values{"category": {"enrolment"}, "text": {"9C"}})
	if status != http.StatusNotFound {
		t.Fatalf("an answer to a message that is not there: %d\n%s", status, page)
	}
	big := url.Values{"to": {brokertest.Social}, "personnummer": {pupil}, "text": {strings.Repeat("x", 300<<10)}}
	status, page = b.post("concern", "concern", big)
	if status != http.StatusBadRequest || !strings.Contains(page, "för stort") {
		t.Fatalf("a form too big: %d\n%s", status, page)
	}
	status, page = b.do("GET", "consents", nil)
	if status != http.StatusForbidden {
		t.Fatalf("a school's consents page: %d\n%s", status, page)
	}

	// Markup is text: the report is delivered and shown escaped.
	const markup = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	status, page = b.post("concern", "concern", url.Values{"to": {brokertest.Social}, "personnummer": {pupil}, "text": {markup}})
	if status != http.StatusOK || !strings.Contains(page, "R-CONCERN") {
		t.Fatalf("a report with markup: %d\n%s", status, page)
	}
	s := w.browser(t, brokertest.Social)
	s.signIn(brokertest.Social)
	id := s.awaitMessage("Orosanmälan")
	status, page = s.do("GET", "m/"+id, nil)
	if status != http.StatusOK || strings.Contains(page, "<script>alert") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the report's markup on social services' page: %d\n%s", status, page)
	}
	if !strings.Contains(page, "Markera som hanterat") {
		t.Fatalf("an open report cannot be marked handled:\n%s", page)
	}
	if status, page := s.post("m/"+id, "m/"+id+"/handled", url.Values{}); status != http.StatusSeeOther {
		t.Fatalf("marking the report handled: %d\n%s", status, page)
	}
	if status, page := s.do("GET", "", nil); status != http.StatusOK || !strings.Contains(page, "Öppna ärenden (0)") ||
		!strings.Contains(page, "Hanterade meddelanden (1)") {
		t.Fatalf("the inbox after the report was handled: %d\n%s", status, page)
	}
	if logs := w.logs.String(); strings.Contains(logs, pupil) || strings.Contains(logs, "20120304") || strings.Contains(logs, "alert(") {
		t.Fatalf("a personnummer or a message's content is in the log:\n%s", logs)
	}
	if !strings.Contains(w.logs.String(), "user=rektor") {
		t.Fatalf("the report is not logged with the official:\n%s", w.logs.String())
	}
}

// TestIdentityProxy: behind a trusted proxy the header names the official;
// a name not configured is refused, and the password sign-in is off.
func TestIdentityProxy(t *testing.T) {
	w := newWorld(t, func(_ string, cfg *webdesk.Config) {
		cfg.IdentityHeader = "X-Remote-User"
		cfg.Users[0].PasswordHash = ""
	})
	b := w.browser(t, brokertest.School)
	status, page := b.do("GET", "", nil, "X-Remote-User", "rektor")
	if status != http.StatusOK || !strings.Contains(page, "Eva Berg, rektor") {
		t.Fatalf("the inbox through the proxy: %d\n%s", status, page)
	}
	if status, _ := b.do("GET", "", nil, "X-Remote-User", "mallory"); status != http.StatusUnauthorized {
		t.Fatalf("an unknown user through the proxy: %d", status)
	}
	if status, _ := b.do("GET", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("no user through the proxy: %d", status)
	}
	tok := csrfRE.FindStringSubmatch(page)[1]
	form := url.Values{"csrf": {tok}, "to": {brokertest.Social}, "personnummer": {pupil}, "text": {"Oro för eleven."}}
	if status, _ := b.do("POST", "concern", form, "X-Remote-User", "mallory"); status != http.StatusUnauthorized {
		t.Fatalf("a report by an unknown user: %d", status)
	}
	status, page = b.do("POST", "concern", form, "X-Remote-User", "rektor")
	if status != http.StatusOK || !strings.Contains(page, "R-CONCERN") {
		t.Fatalf("a report through the proxy: %d\n%s", status, page)
	}
	if status, _ := b.do("POST", "login", url.Values{"name": {"rektor"}, "password": {password}}); status != http.StatusNotFound {
		t.Fatalf("a password sign-in behind the proxy: %d", status)
	}
}

// TestConfig: a desk is not made with what it cannot work with, and says why.
func TestConfig(t *testing.T) {
	if _, err := webdesk.New(webdesk.Config{}); err == nil || !strings.Contains(err.Error(), "Client") {
		t.Fatalf("an empty config: %v", err)
	}
	if _, err := webdesk.HashPassword(""); err == nil {
		t.Fatal("an empty password was hashed")
	}
	w := newWorld(t, nil)
	for _, c := range []struct {
		name string
		mod  func(*webdesk.Config)
		want string
	}{
		{"unknown agency", func(c *webdesk.Config) { c.AgencyID = "skola-x" }, "not in the directory"},
		{"no users", func(c *webdesk.Config) { c.Users = nil }, "no users"},
		{"no display name", func(c *webdesk.Config) { c.Users[0].DisplayName = " " }, "display name"},
		{"bad hash", func(c *webdesk.Config) { c.Users[0].PasswordHash = "hunter2" }, "not an argon2id"},
		{"bad argon2id", func(c *webdesk.Config) { c.Users[0].PasswordHash = "$argon2id$v=19$m=0,t=0,p=0$AAAA$AAAA" }, "out of range"},
		{"no hash", func(c *webdesk.Config) { c.Users[0].PasswordHash = "" }, "no password hash"},
		{"twice", func(c *webdesk.Config) { c.Users = append(c.Users, c.Users[0]) }, "twice"},
	} {
		cfg := w.cfgs[brokertest.School]
		cfg.Users = append([]webdesk.User(nil), cfg.Users...)
		c.mod(&cfg)
		if _, err := webdesk.New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestConsentAndWithhold: social services record a consent only with the
// number of guardians needed and the maturity judgement, and withdraw it;
// the rector answers a request for secret data only with an interest
// assessment, and a decision to withhold sends nothing.
func TestConsentAndWithhold(t *testing.T) {
	w := newWorld(t, nil)
	s := w.browser(t, brokertest.Social)
	s.signIn(brokertest.Social)
	consent := url.Values{"id": {"samtycke-2026-017"}, "personnummer": {pupil}, "categories": {"case_details"},
		"to": {brokertest.School}, "purpose": {"samordnat stöd i skolan"}, "guardian": {"mamma", "pappa"},
		"child-required": {"no"}, "how": {"written"}}
	status, page := s.post("consents", "consents", consent)
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "hur många vårdnadshavare") ||
		!strings.Contains(page, `id="fel-guardians-needed"`) {
		t.Fatalf("a consent without the number of guardians needed: %d\n%s", status, page)
	}
	consent.Set("guardians-needed", "2")
	consent.Del("child-required")
	status, page = s.post("consents", "consents", consent)
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "ålder och mognad") {
		t.Fatalf("a consent without the maturity judgement: %d\n%s", status, page)
	}
	consent.Set("child-required", "no")
	status, page = s.post("consents", "consents", consent)
	if status != http.StatusOK || !strings.Contains(page, "soc-malmo.samtycke-2026-017") || !strings.Contains(page, "Malin Ellström") {
		t.Fatalf("recording a consent: %d\n%s", status, page)
	}
	status, page = s.post("consents", "consents/withdraw", url.Values{"ref": {"soc-malmo.samtycke-2026-017"}})
	if status != http.StatusOK || !strings.Contains(page, "Återkallat") {
		t.Fatalf("withdrawing a consent: %d\n%s", status, page)
	}
	status, page = s.post("consents", "consents/show", url.Values{"ref": {"rosengard-skola.x"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "ett av era samtycken") {
		t.Fatalf("another agency's consent: %d\n%s", status, page)
	}

	p := w.browser(t, brokertest.Police)
	p.signIn(brokertest.Police)
	status, page = p.post("request", "request", url.Values{"to": {brokertest.School}, "category": {"contact_details"},
		"personnummer": {pupil}, "purpose": {"utreda brott"}, "text": {"Telefonnummer?"}})
	if status != http.StatusOK || !strings.Contains(page, "Begäran: levererat") {
		t.Fatalf("the police's request: %d\n%s", status, page)
	}
	r := w.browser(t, brokertest.School)
	r.signIn(brokertest.School)
	id := r.awaitMessage("Begäran")
	answer := url.Values{"category": {"contact_details"}, "text": {"070-123 45 67"}}
	status, page = r.post("m/"+id, "m/"+id+"/answer", answer)
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "intresseavvägning") {
		t.Fatalf("secret data without an assessment: %d\n%s", status, page)
	}
	status, page = r.post("m/"+id, "m/"+id+"/answer", url.Values{"category": {"contact_details"}, "secret": {"yes"},
		"assessment": {"withhold"}, "reason": {"Skyddade personuppgifter."}})
	if status != http.StatusOK || !strings.Contains(page, "Inget skickades") || !strings.Contains(page, "Eva Berg, rektor") {
		t.Fatalf("withholding: %d\n%s", status, page)
	}
	status, page = r.post("m/"+id, "m/"+id+"/answer", answer)
	if status != http.StatusConflict {
		t.Fatalf("answering a request already handled: %d\n%s", status, page)
	}
}
