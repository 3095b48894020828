package webdesk

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
)

//go:embed templates/*.html static/desk.css
var files embed.FS

// pages are the parsed templates, one per page, each with the layout.
type pages struct {
	byName map[string]*template.Template
	css    []byte
}

// The Swedish words of the vocabulary shown on the pages.
var (
	kindWords = map[string]string{
		agency.KindRequest:           "Begäran",
		agency.KindResponse:          "Svar",
		agency.KindDisclosure:        "Uppgiftslämnande",
		agency.KindConcernReport:     "Orosanmälan",
		agency.KindFeedback:          "Återkoppling",
		agency.KindReport:            "Anmälan",
		directory.KindPolice:         "polisen",
		directory.KindSchool:         "skola",
		directory.KindSocialServices: "socialtjänst",
	}
	obligationShort = map[string]string{
		agency.ObligationDoNotForward:       "Förundersökningssekretess",
		agency.ObligationWithinConsentScope: "Inom samtyckets ram",
		"status-only":                       "Endast status",
		"no-identifying-data":               "Avidentifierat",
		"aggregate-only":                    "Endast statistik",
		obligationSecretAtReporter:          "Sekretess hos anmälaren",
		obligationFeedbackDeadline:          "Tidsfrist för återkoppling",
	}
	obligationWords = map[string]string{
		agency.ObligationDoNotForward: "uppgifterna kommer från en förundersökning och omfattas av förundersökningssekretess " +
			"(OSL 18 kap. 1 och 3 §§). De får inte lämnas vidare.",
		agency.ObligationWithinConsentScope: "uppgifterna lämnades med stöd av ett samtycke (OSL 12 kap. 2–3 §§), som bara " +
			"omfattar det utlämnandet. De får inte lämnas vidare.",
		"status-only":         "återkopplingen gäller bara om en utredning har inletts (SoL (2025:400) 19 kap. 6 §).",
		"no-identifying-data": "uppgifterna lämnades utan att barnet kan identifieras; lägg inte till något som identifierar.",
		"aggregate-only":      "bara sammanställd statistik utan identiteter.",
		obligationSecretAtReporter: "uppgifter om en orosanmälan och om återkopplingen på den är sekretessbelagda hos den som " +
			"anmälde (OSL 40 kap. 7 g §).",
		obligationFeedbackDeadline: "återkoppling som anmälaren begär lämnas senast en vecka efter beslutet om att inleda eller " +
			"inte inleda utredning, eller genast om begäran kom senare (SoL (2025:400) 19 kap. 6 § andra stycket). " +
			"En sen återkoppling är ändå tillåten.",
	}
	roleWords = map[string]string{
		consent.RoleGuardian: "vårdnadshavare",
		consent.RoleChild:    "barnet",
		consent.RolePerson:   "personen själv",
	}
	howWords = map[string]string{"written": "skriftligt", "oral": "muntligt", "digital": "digitalt"}
)

// Obligations the policy words with details after a fixed beginning; the
// desk explains them by that beginning.
const (
	obligationSecretAtReporter = "secret at the reporter"
	obligationFeedbackDeadline = "feedback deadline"
)

func word(m map[string]string, k string) string {
	if w, ok := m[k]; ok {
		return w
	}
	for _, prefix := range []string{obligationSecretAtReporter, obligationFeedbackDeadline} {
		if strings.HasPrefix(k, prefix+":") {
			if w, ok := m[prefix]; ok {
				return w
			}
		}
	}
	return k
}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	var err error
	if p.css, err = fs.ReadFile(files, "static/desk.css"); err != nil {
		return nil, fmt.Errorf("webdesk: %w", err)
	}
	funcs := template.FuncMap{
		"kindSV":          func(k string) string { return word(kindWords, k) },
		"obligationShort": func(o string) string { return word(obligationShort, o) },
		"obligationSV":    func(o string) string { return word(obligationWords, o) },
		"roleSV":          func(r string) string { return word(roleWords, r) },
		"howSV":           func(h string) string { return word(howWords, h) },
		"maturitySV": func(o string) string {
			if o == consent.MaturityChildConsentRequired {
				return "barnets eget samtycke krävs"
			}
			return "barnets eget samtycke krävs inte"
		},
		"categorySV": categoryWord,
		"categories": func() []struct{ ID, Svenska string } { return forms.Categories },
		"when":       func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
		"whenp": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return t.Local().Format("2006-01-02 15:04")
		},
		"text": func(b []byte) string {
			if !utf8.Valid(b) {
				return fmt.Sprintf("(binärt innehåll, %d byte, visas inte)", len(b))
			}
			return string(b)
		},
		// Replaced per request by the desk's directory.
		"agencyName": func(id string) string { return id },
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("webdesk: %w", err)
	}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("webdesk: %w", err)
		}
		p.byName[strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")] = t
	}
	return p, nil
}

func categoryWord(c string) string {
	for _, x := range forms.Categories {
		if x.ID == c {
			return x.Svenska
		}
	}
	return c
}

// view is what a page shows.
type view struct {
	Title  string
	Base   string
	User   *User
	Agency *directory.Agency
	CSRF   string
	// Error is a problem shown at the top of the page.
	Error string
	// Fields are problems with single fields, in Swedish, by input name.
	Fields map[string]string
	// Form is what the official filled in, to fill it in again.
	Form url.Values

	LoginToken string

	Open, Handled []*agency.Delivery
	Unopened      int

	Msg                                 *agency.Delivery
	IsOpen                              bool
	CanAnswer, CanAnswerFU, CanFeedback bool
	Blocking                            []string

	Result     *result
	Consent    *consent.Record
	ConsentRef string

	Others, Social, Police []*directory.Agency
}

// Err returns the problem with field name, if any.
func (v *view) Err(name string) string { return v.Fields[name] }

// Val returns what the official filled in for name.
func (v *view) Val(name string) string { return v.Form.Get(name) }

// Nth returns the i-th value filled in for name.
func (v *view) Nth(name string, i int) string {
	if vs := v.Form[name]; i < len(vs) {
		return vs[i]
	}
	return ""
}

// Has reports whether value is among the values filled in for name.
func (v *view) Has(name, value string) bool { return slices.Contains(v.Form[name], value) }

// result is the outcome of a form: delivered, refused (at the desk or by
// the broker), sent without a decision yet, or a note.
type result struct {
	Action    string
	Delivered bool
	Pending   bool
	Edge      bool
	Record    *decision.Record
	Decisive  string
	Rest      []string
	MessageID string
	Note      string
}

// newView returns the view of a page for u.
func (d *desk) newView(title string, u *User, csrf string) *view {
	v := &view{Title: title, Base: d.base, User: u, Agency: d.self, CSRF: csrf, Fields: map[string]string{}, Form: url.Values{}}
	for _, a := range d.cfg.Directory.Agencies {
		if a.ID == d.self.ID {
			continue
		}
		switch a.Kind {
		case directory.KindPolice:
			v.Police = append(v.Police, &a)
		case directory.KindSocialServices:
			v.Social = append(v.Social, &a)
		case directory.KindSchool:
		default:
			continue
		}
		v.Others = append(v.Others, &a)
	}
	return v
}

// render writes page name with v.
func (d *desk) render(w http.ResponseWriter, status int, name string, v *view) {
	t, err := d.pages.byName[name].Clone()
	if err == nil {
		t = t.Funcs(template.FuncMap{"agencyName": d.agencyName})
		var buf bytes.Buffer
		if err = t.ExecuteTemplate(&buf, "layout", v); err == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_, _ = w.Write(buf.Bytes())
			return
		}
	}
	d.log.Error("desk page failed", "page", name, "err", err)
	http.Error(w, "Sidan kunde inte visas. Försök igen; kontakta driften om felet kvarstår.", http.StatusInternalServerError)
}

// agencyName returns the directory's name of an agency, or its id.
func (d *desk) agencyName(id string) string {
	if a, ok := d.cfg.Directory.Lookup(id); ok && a.Name != "" {
		return a.Name
	}
	return id
}

// fail shows a page with only a problem on it.
func (d *desk) fail(w http.ResponseWriter, r *http.Request, status int, problem string) {
	u, csrf := d.who(r)
	v := d.newView(http.StatusText(status), u, csrf)
	v.Title = map[int]string{400: "Felaktig begäran", 401: "Inte inloggad", 403: "Inte tillåtet", 404: "Finns inte",
		405: "Fel metod", 422: "Kan inte skickas", 429: "För många försök", 500: "Internt fel"}[status]
	v.Error = problem
	d.render(w, status, "message_fail", v)
}

func (d *desk) css(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(d.pages.css)
}

// cookie returns a cookie of the desk's: HttpOnly, SameSite=Strict, for
// the base path only, Secure over TLS or when configured.
func (d *desk) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: d.base, MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil || d.cfg.SecureCookies}
}

func (d *desk) loginPage(w http.ResponseWriter, r *http.Request) {
	if d.cfg.IdentityHeader != "" {
		http.Redirect(w, r, d.base, http.StatusSeeOther)
		return
	}
	d.showLogin(w, r, http.StatusOK, "", "")
}

func (d *desk) showLogin(w http.ResponseWriter, r *http.Request, status int, name, problem string) {
	token, err := randomToken()
	if err != nil {
		http.Error(w, "Internt fel", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, d.cookie(r, loginCookie, token, 900))
	v := d.newView("Logga in", nil, "")
	v.LoginToken, v.Error = token, problem
	v.Form.Set("name", name)
	d.render(w, status, "login", v)
}

func (d *desk) login(w http.ResponseWriter, r *http.Request) {
	if d.cfg.IdentityHeader != "" {
		d.fail(w, r, http.StatusNotFound, "Inloggning sker via organisationens inloggningstjänst.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		d.showLogin(w, r, http.StatusBadRequest, "", "Inloggningen kunde inte läsas. Försök igen.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		d.showLogin(w, r, http.StatusForbidden, "", "Inloggningsformuläret saknar giltig säkerhetskod (CSRF), eller har gått ut. Försök igen.")
		return
	}
	name, password := r.PostForm.Get("name"), r.PostForm.Get("password")
	if len(name) > 200 || !utf8.ValidString(name) {
		name = ""
	}
	if d.sessions.locked(name) {
		d.log.Warn("desk sign-in refused: too many failures", "user", name)
		d.showLogin(w, r, http.StatusTooManyRequests, name, "För många misslyckade inloggningar. Vänta en kvart och försök igen, eller kontakta driften.")
		return
	}
	u := d.users[name]
	hash := d.dummy
	if u != nil && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	// An unknown name costs the same hash as a known one.
	ok := verifyPassword(hash, password) && u != nil && u.PasswordHash != ""
	d.sessions.failed(name, ok)
	if !ok {
		d.log.Warn("desk sign-in failed", "user", name)
		d.showLogin(w, r, http.StatusUnauthorized, name, "Fel användarnamn eller lösenord.")
		return
	}
	token, err := d.sessions.start(u)
	if err != nil {
		http.Error(w, "Internt fel", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, token, int(sessionMaxAge/time.Second)))
	http.SetCookie(w, d.cookie(r, loginCookie, "", -1))
	d.log.Info("desk sign-in", "user", u.Name)
	http.Redirect(w, r, d.base, http.StatusSeeOther)
}

func (d *desk) logout(w http.ResponseWriter, r *http.Request, u *User, _ string) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.sessions.end(c.Value)
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
	d.log.Info("desk sign-out", "user", u.Name)
	http.Redirect(w, r, d.base+"login", http.StatusSeeOther)
}

// fetch moves new deliveries into the inbox and returns how many could not
// be opened with this agency's keys.
func (d *desk) fetch(ctx context.Context) (int, error) {
	if d.cfg.Fetch != nil {
		return 0, d.cfg.Fetch(ctx)
	}
	if !d.fetchMu.TryLock() {
		return 0, nil // another page is fetching now
	}
	defer d.fetchMu.Unlock()
	wait := d.cfg.FetchWait
	if wait <= 0 {
		wait = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// The broker offers an unopened delivery again after a while; meeting
	// the same one twice means everything else was fetched.
	seen := map[string]bool{}
	for {
		m, err := d.cfg.Client.Next(ctx)
		switch {
		case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
			return len(seen), nil
		case errors.Is(err, agency.ErrBadKey):
			if seen[err.Error()] {
				return len(seen), nil
			}
			seen[err.Error()] = true
			d.log.Warn("desk: a delivery could not be opened with this agency's keys; it stays at the broker", "err", err)
			continue
		case err != nil:
			return len(seen), err
		}
		if err := d.cfg.Inbox.Save(m); err != nil {
			return len(seen), err
		}
		// Acknowledged only once stored with its decision.
		if err := m.Ack(); err != nil {
			return len(seen), err
		}
	}
}

func (d *desk) inbox(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	v := d.newView("Inkorg", u, csrf)
	var err error
	v.Unopened, err = d.fetch(r.Context())
	if errors.Is(err, agency.ErrUnreachable) {
		v.Error = "Brokern svarar inte just nu. Listan visar det som redan hämtats; ladda om sidan senare."
	} else if err != nil {
		d.log.Error("desk: fetching deliveries", "err", err)
		v.Error = "Nya meddelanden kunde inte hämtas. Listan visar det som redan hämtats."
	}
	var damaged error
	v.Open, damaged = d.cfg.Inbox.Open()
	if damaged != nil && !errors.Is(damaged, inbox.ErrDamaged) {
		d.log.Error("desk: reading the inbox", "err", damaged)
		d.fail(w, r, http.StatusInternalServerError, "Inkorgen kunde inte läsas. Kontakta driften.")
		return
	}
	handled, herr := d.cfg.Inbox.Handled()
	if herr != nil && !errors.Is(herr, inbox.ErrDamaged) {
		damaged = herr
	}
	// The latest handled first, fifty at most.
	slices.Reverse(handled)
	v.Handled = handled[:min(len(handled), 50)]
	if damaged != nil {
		d.log.Error("desk: damaged inbox files", "err", damaged)
		v.Error = "Några sparade meddelanden kunde inte läsas. Kontakta driften; de övriga visas."
	}
	d.render(w, http.StatusOK, "inbox", v)
}

// received returns the stored message of the request's {id}, and whether
// it is still open.
func (d *desk) received(w http.ResponseWriter, r *http.Request) (*agency.Delivery, bool, bool) {
	id := r.PathValue("id")
	m, err := d.cfg.Inbox.Get(id)
	if errors.Is(err, inbox.ErrNotFound) {
		d.fail(w, r, http.StatusNotFound, "Meddelandet finns inte i inkorgen (ett meddelande-id är 32 hexadecimala tecken).")
		return nil, false, false
	}
	if err != nil {
		d.log.Error("desk: reading a message", "id", id, "err", err)
		d.fail(w, r, http.StatusInternalServerError, "Meddelandet kunde inte läsas. Kontakta driften.")
		return nil, false, false
	}
	open, _ := d.cfg.Inbox.Open()
	isOpen := slices.ContainsFunc(open, func(o *agency.Delivery) bool { return o.ID == m.ID })
	return m, isOpen, true
}

// messageView returns the view of message m with the forms that apply.
func (d *desk) messageView(u *User, csrf string, m *agency.Delivery, open bool) *view {
	v := d.newView(word(kindWords, m.Kind), u, csrf)
	v.Msg, v.IsOpen = m, open
	from, _ := d.cfg.Directory.Lookup(m.From)
	fromKind := ""
	if from != nil {
		fromKind = from.Kind
	}
	v.CanAnswer = open && d.self.Kind == directory.KindSchool && m.Kind == agency.KindRequest && fromKind == directory.KindPolice
	v.CanAnswerFU = open && d.self.Kind == directory.KindPolice && m.Kind == agency.KindRequest &&
		fromKind == directory.KindSocialServices && m.Decision.Category == "preliminary_investigation"
	v.CanFeedback = open && d.self.Kind == directory.KindSocialServices && m.Kind == agency.KindConcernReport
	v.Blocking = forms.Blocking(m)
	if v.CanAnswer {
		v.Form.Set("category", m.Decision.Category)
	}
	if v.CanFeedback && strings.Contains(string(m.Payload), "Återkoppling önskas.") {
		v.Form.Set("asked", "yes")
	}
	return v
}

func (d *desk) message(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	m, open, ok := d.received(w, r)
	if !ok {
		return
	}
	d.render(w, http.StatusOK, "message", d.messageView(u, csrf, m, open))
}

// official is who fills in a form.
func (d *desk) official(u *User) forms.Official {
	return forms.Official{Name: u.DisplayName, Key: d.cfg.Pseudonym}
}

// invalid shows page again with the form's problem; it reports whether err
// was a problem with the form.
func (d *desk) invalid(w http.ResponseWriter, r *http.Request, page string, v *view, err error, prefix string) bool {
	fe, ok := forms.AsFieldError(err)
	if !ok {
		return false
	}
	v.Form = r.PostForm
	v.Fields[prefix+fe.Field] = fe.Svenska
	v.Error = "Formuläret är inte komplett: " + fe.Svenska + " Inget har skickats."
	d.render(w, http.StatusUnprocessableEntity, page, v)
	return true
}

// send delivers m for u and shows the broker's decision.
func (d *desk) send(w http.ResponseWriter, r *http.Request, u *User, csrf, action string, m agency.Message, after func() error) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	// Who sent it, sealed in the audit log with the purpose.
	if c, ok := m.Metadata.(agency.Claims); ok && c.SenderOfficial == "" {
		c.SenderOfficial = u.DisplayName
		if c.SenderOfficial == "" {
			c.SenderOfficial = u.Name
		}
		m.Metadata = c
	}
	id, err := d.cfg.Client.Send(ctx, m)
	if err != nil {
		d.log.Error("desk action failed to send", "user", u.Name, "action", action, "err", err)
		d.fail(w, r, http.StatusBadGateway, "Meddelandet kunde inte skickas: brokern nås inte. Inget har skickats; försök igen.")
		return
	}
	rec, err := d.cfg.Client.Receipt(ctx, id)
	v := d.newView(action, u, csrf)
	res := &result{Action: action, Record: rec, MessageID: id}
	v.Result = res
	switch {
	case err == nil:
		res.Delivered = true
		d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", action, "message", id,
			"outcome", "delivered", "rule", rec.Rule)
		if after != nil {
			if err := after(); err != nil {
				d.log.Error("desk: after delivery", "user", u.Name, "action", action, "message", id, "err", err)
				v.Error = "Meddelandet levererades, men inkorgen kunde inte uppdateras. Kontakta driften."
			}
		}
		d.render(w, http.StatusOK, "result", v)
	case rec != nil:
		res.Decisive, res.Rest = decisive(rec.Reasons)
		d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", action, "message", id,
			"outcome", "rejected", "error_code", rec.ErrorCode, "reason", res.Decisive)
		d.render(w, http.StatusUnprocessableEntity, "result", v)
	default:
		res.Pending = true
		d.log.Warn("desk action without a receipt yet", "user", u.Name, "action", action, "message", id, "err", err)
		d.render(w, http.StatusAccepted, "result", v)
	}
}

// decisive splits reasons into the decisive one, which the policy puts
// first, and the rest.
func decisive(reasons []string) (string, []string) {
	if len(reasons) == 0 {
		return "Brokern angav inget skäl.", nil
	}
	return reasons[0], reasons[1:]
}

func (d *desk) concernPage(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	d.render(w, http.StatusOK, "concern", d.newView("Orosanmälan", u, csrf))
}

func (d *desk) concern(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	f := r.PostForm
	m, err := forms.Concern{To: f.Get("to"), Personnummer: f.Get("personnummer"), Text: f.Get("text"),
		Feedback: f.Get("feedback") != "", Role: u.Role}.Message(d.official(u))
	if d.invalid(w, r, "concern", d.newView("Orosanmälan", u, csrf), err, "") {
		return
	}
	if err != nil {
		d.broken(w, r, u, "Orosanmälan", err)
		return
	}
	d.send(w, r, u, csrf, "Orosanmälan", m, nil)
}

// broken shows an error that is not the official's to fix.
func (d *desk) broken(w http.ResponseWriter, r *http.Request, u *User, action string, err error) {
	d.log.Error("desk action failed", "user", u.Name, "action", action, "err", err)
	d.fail(w, r, http.StatusInternalServerError, action+" kunde inte skickas: skrivbordets inställningar är fel. Inget har skickats; kontakta driften.")
}

// only refuses a page of another kind of agency.
func (d *desk) only(w http.ResponseWriter, r *http.Request, kind string) bool {
	if d.self.Kind == kind {
		return true
	}
	d.fail(w, r, http.StatusForbidden, "Den här åtgärden finns inte för "+word(kindWords, d.self.Kind)+".")
	return false
}

func (d *desk) requestPage(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if d.only(w, r, directory.KindPolice) {
		d.render(w, http.StatusOK, "request", d.newView("Begär uppgifter", u, csrf))
	}
}

func (d *desk) request(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if !d.only(w, r, directory.KindPolice) {
		return
	}
	f := r.PostForm
	m, err := forms.Request{To: f.Get("to"), Category: f.Get("category"), Personnummer: f.Get("personnummer"),
		Purpose: f.Get("purpose"), Text: f.Get("text")}.Message(d.official(u))
	if d.invalid(w, r, "request", d.newView("Begär uppgifter", u, csrf), err, "") {
		return
	}
	if err != nil {
		d.broken(w, r, u, "Begäran", err)
		return
	}
	d.send(w, r, u, csrf, "Begäran", m, nil)
}

func (d *desk) requestFUPage(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if d.only(w, r, directory.KindSocialServices) {
		d.render(w, http.StatusOK, "request_fu", d.newView("Begär uppgifter ur förundersökning", u, csrf))
	}
}

func (d *desk) requestFU(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if !d.only(w, r, directory.KindSocialServices) {
		return
	}
	f := r.PostForm
	m, err := forms.RequestFU{To: f.Get("to"), Personnummer: f.Get("personnummer"), Purpose: f.Get("purpose"),
		Text: f.Get("text")}.Message(d.official(u))
	if d.invalid(w, r, "request_fu", d.newView("Begär uppgifter ur förundersökning", u, csrf), err, "") {
		return
	}
	if err != nil {
		d.broken(w, r, u, "Begäran", err)
		return
	}
	d.send(w, r, u, csrf, "Begäran om uppgifter ur förundersökning", m, nil)
}

// reply answers the received message of the request's {id} with the form
// that apply(m, v) checks and builds; it is marked handled once delivered.
func (d *desk) reply(w http.ResponseWriter, r *http.Request, u *User, csrf, action, kind string,
	allowed func(*view) bool, build func(m *agency.Delivery) (agency.Claims, string, error)) {
	m, open, ok := d.received(w, r)
	if !ok {
		return
	}
	v := d.messageView(u, csrf, m, open)
	if !allowed(v) {
		d.fail(w, r, http.StatusConflict, action+" går inte för det här meddelandet: det är redan hanterat, eller av fel slag.")
		return
	}
	claims, text, err := build(m)
	if d.invalid(w, r, "message", v, err, "") {
		return
	}
	if err != nil {
		d.broken(w, r, u, action, err)
		return
	}
	d.send(w, r, u, csrf, action, agency.Message{To: m.From, Kind: kind, ReplyTo: m.ID, Metadata: claims, Payload: []byte(text)},
		func() error { return d.cfg.Inbox.MarkHandled(m.ID) })
}

func (d *desk) answer(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	f := r.PostForm
	form := forms.Answer{Category: f.Get("category"), Secret: f.Get("secret") != "", Assessment: f.Get("assessment"),
		Reason: f.Get("reason"), Personnummer: f.Get("personnummer"), Role: u.Role, Text: f.Get("text")}
	if form.Withhold() && form.Check() == nil {
		d.withhold(w, r, u, csrf, form)
		return
	}
	d.reply(w, r, u, csrf, "Svar till polisen", agency.KindResponse, func(v *view) bool { return v.CanAnswer },
		func(*agency.Delivery) (agency.Claims, string, error) {
			c, err := form.Claims(d.official(u))
			return c, form.Text, err
		})
}

// withhold records the rector's assessment to give nothing beside the
// request, and sends nothing.
func (d *desk) withhold(w http.ResponseWriter, r *http.Request, u *User, csrf string, form forms.Answer) {
	m, open, ok := d.received(w, r)
	if !ok {
		return
	}
	v := d.messageView(u, csrf, m, open)
	if !v.CanAnswer {
		d.fail(w, r, http.StatusConflict, "Begäran är redan hanterad.")
		return
	}
	claims, err := form.Claims(d.official(u))
	if d.invalid(w, r, "message", v, err, "") {
		return
	}
	if err == nil {
		err = d.cfg.Inbox.RecordAssessment(m.ID, claims.InterestAssessment)
	}
	if err == nil {
		err = d.cfg.Inbox.MarkHandled(m.ID)
	}
	if err != nil {
		d.broken(w, r, u, "Intresseavvägningen", err)
		return
	}
	d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", "withhold", "message", m.ID, "outcome", "recorded")
	v = d.newView("Svar till polisen", u, csrf)
	v.Result = &result{Action: "Svar till polisen: inget lämnas ut", Note: fmt.Sprintf(
		"Inget skickades. Din intresseavvägning att inte lämna ut (%s, %s) är sparad vid begäran. Meddela polisen att ni avböjer, utan att lämna uppgifterna.",
		claims.InterestAssessment.By, claims.InterestAssessment.At.Local().Format("2006-01-02 15:04"))}
	d.render(w, http.StatusOK, "result", v)
}

func (d *desk) answerFU(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	f := r.PostForm
	form := forms.AnswerFU{Relevance: f.Get("relevance"), Text: f.Get("text")}
	d.reply(w, r, u, csrf, "Uppgifter ur förundersökning", agency.KindResponse, func(v *view) bool { return v.CanAnswerFU },
		func(*agency.Delivery) (agency.Claims, string, error) {
			c, err := form.Claims(d.official(u))
			return c, form.Text, err
		})
}

func (d *desk) feedback(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	f := r.PostForm
	form := forms.Feedback{Status: f.Get("status"), Reason: f.Get("reason"), Asked: f.Get("asked") != "",
		GuardianInformed: f.Get("guardian-informed") != ""}
	d.reply(w, r, u, csrf, "Återkoppling", agency.KindFeedback, func(v *view) bool { return v.CanFeedback },
		func(*agency.Delivery) (agency.Claims, string, error) { return form.Claims(d.official(u)) })
}

func (d *desk) forward(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	m, open, ok := d.received(w, r)
	if !ok {
		return
	}
	f := r.PostForm
	v := d.messageView(u, csrf, m, open)
	claims, err := forms.Forward{To: f.Get("to"), Purpose: f.Get("purpose"), ConsentRef: f.Get("consent"),
		Personnummer: f.Get("personnummer")}.Claims(d.official(u), m)
	if d.invalid(w, r, "message", v, err, "fwd-") {
		return
	}
	if err != nil {
		d.broken(w, r, u, "Vidarebefordran", err)
		return
	}
	// The obligations are enforced here, before anything is sent; the
	// broker would refuse too.
	if blocking := forms.Blocking(m); len(blocking) > 0 {
		var reasons []string
		for _, o := range blocking {
			reasons = append(reasons, obligationShort[o]+": "+obligationWords[o]+" ("+o+")")
		}
		res := &result{Action: "Vidarebefordran", Edge: true, Record: &decision.Record{}}
		res.Decisive, res.Rest = reasons[0], reasons[1:]
		res.Rest = append(res.Rest, fmt.Sprintf("Meddelandet %s levererades med stöd av %s (regel %s) med skyldigheterna: %s.",
			m.ID, m.Decision.Basis, m.Decision.Rule, strings.Join(m.Decision.Obligations, "; ")))
		v = d.newView("Vidarebefordran", u, csrf)
		v.Result = res
		d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", "forward", "message", m.ID,
			"outcome", "refused at the desk", "obligation", blocking[0])
		d.render(w, http.StatusUnprocessableEntity, "result", v)
		return
	}
	d.send(w, r, u, csrf, "Vidarebefordran", agency.Message{To: f.Get("to"), Kind: agency.KindDisclosure,
		Metadata: claims, Payload: m.Payload}, nil)
}

func (d *desk) handled(w http.ResponseWriter, r *http.Request, u *User, _ string) {
	m, _, ok := d.received(w, r)
	if !ok {
		return
	}
	if err := d.cfg.Inbox.MarkHandled(m.ID); err != nil {
		d.broken(w, r, u, "Markeringen", err)
		return
	}
	d.log.Info("desk action", "user", u.Name, "action", "handled", "message", m.ID)
	http.Redirect(w, r, d.base, http.StatusSeeOther)
}

func (d *desk) consentsPage(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if d.only(w, r, directory.KindSocialServices) {
		d.render(w, http.StatusOK, "consents", d.newView("Samtycken", u, csrf))
	}
}

func (d *desk) recordConsent(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	if !d.only(w, r, directory.KindSocialServices) {
		return
	}
	f := r.PostForm
	v := d.newView("Samtycken", u, csrf)
	var guardians []string
	for _, g := range f["guardian"] {
		if g = strings.TrimSpace(g); g != "" {
			guardians = append(guardians, g)
		}
	}
	needed := 0
	switch f.Get("guardians-needed") {
	case "1":
		needed = 1
	case "2":
		needed = 2
	case "":
	default:
		v.Form, v.Fields["guardians-needed"] = f, "Välj 1 eller 2."
		v.Error = "Formuläret är inte komplett: antalet vårdnadshavare är 1 eller 2. Inget har registrerats."
		d.render(w, http.StatusUnprocessableEntity, "consents", v)
		return
	}
	rec, err := forms.Consent{ID: f.Get("id"), Personnummer: f.Get("personnummer"), Categories: f["categories"],
		Recipients: f["to"], Purpose: f.Get("purpose"), Guardians: guardians, GuardiansNeeded: needed,
		Child: f.Get("child") != "", Person: f.Get("person") != "", ChildRequired: f.Get("child-required"),
		How: f.Get("how"), ValidUntil: f.Get("valid-until")}.Record(d.official(u))
	if d.invalid(w, r, "consents", v, err, "") {
		return
	}
	if err != nil {
		// The registry's own check of the record (consent.Record.Validate).
		v.Form = f
		v.Error = "Samtycket kan inte registreras: " + err.Error() + ". Inget har registrerats."
		d.render(w, http.StatusUnprocessableEntity, "consents", v)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	ref, err := d.cfg.Client.RecordConsent(ctx, rec)
	if err != nil {
		d.log.Error("desk: recording a consent", "user", u.Name, "err", err)
		v.Form = f
		v.Error = "Samtycket kunde inte registreras: " + err.Error()
		d.render(w, http.StatusBadGateway, "consents", v)
		return
	}
	d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", "record consent", "consent", ref)
	rec.ID = ref
	v.Consent, v.ConsentRef = &rec, ref
	d.render(w, http.StatusOK, "consents", v)
}

func (d *desk) showConsent(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	d.consentAct(w, r, u, csrf, false)
}

func (d *desk) withdrawConsent(w http.ResponseWriter, r *http.Request, u *User, csrf string) {
	d.consentAct(w, r, u, csrf, true)
}

// consentAct shows, or withdraws and shows, the consent the form names.
func (d *desk) consentAct(w http.ResponseWriter, r *http.Request, u *User, csrf string, withdraw bool) {
	if !d.only(w, r, directory.KindSocialServices) {
		return
	}
	v := d.newView("Samtycken", u, csrf)
	ref := strings.TrimSpace(r.PostForm.Get("ref"))
	v.ConsentRef = ref
	if ref == "" || !strings.HasPrefix(ref, d.self.ID+".") || len(ref) > 200 {
		v.Fields["ref"] = "Ange referensen till ett av era samtycken: " + d.self.ID + ".<id>."
		v.Error = "Samtycket kan inte visas: " + v.Fields["ref"]
		d.render(w, http.StatusUnprocessableEntity, "consents", v)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	var rec *consent.Record
	var err error
	if withdraw {
		rec, err = d.cfg.Client.WithdrawConsent(ctx, ref, time.Time{})
	} else {
		rec, err = d.cfg.Client.Consent(ctx, ref)
	}
	if err != nil {
		d.log.Info("desk: consent not shown", "user", u.Name, "consent", ref, "err", err)
		v.Fields["ref"] = "Samtycket finns inte, eller kunde inte läsas."
		v.Error = "Samtycket " + ref + " kunde inte " + map[bool]string{true: "återkallas", false: "visas"}[withdraw] + ": " + err.Error()
		d.render(w, http.StatusUnprocessableEntity, "consents", v)
		return
	}
	if withdraw {
		d.log.Info("desk action", "user", u.Name, "official", u.DisplayName, "action", "withdraw consent", "consent", ref)
	}
	v.Consent = rec
	d.render(w, http.StatusOK, "consents", v)
}
