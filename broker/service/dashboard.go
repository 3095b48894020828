package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
)

// dashboardFiles are the page's templates and, under assets/, its style
// sheet and script.
//
//go:embed dashboard
var dashboardFiles embed.FS

// opsCookie names the session cookie.
const opsCookie = "sekretess_ops"

// Bounds of what the dashboard reads from a request.
const (
	maxOpsQuery = 512  // bytes of query string
	maxOpsForm  = 1024 // bytes of a sign-in form
)

// securityHeaders are set on every response of the dashboard. The page
// runs no inline script or style: everything comes from /ops/assets.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	"Cache-Control":          "no-store",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// dashboard serves the operators' dashboard: GET / on the broker's HTTP
// listener, for the holder of the operators' token (layout.OpsToken). It
// shows counts, times, agency ids and names, rule ids and error codes, read
// from the same Prometheus registry /metrics serves and from the directory:
// never a pseudonym, a payload or a claim.
//
// Paths:
//
//	GET  /                  the page (server-rendered; ?token=… signs in once)
//	GET  /ops/panel         the page's numbers as an HTML fragment, which its script fetches every defaults.OpsRefresh
//	GET  /ops/api/summary   the same as JSON
//	POST /ops/login         the sign-in form: token=… sets the session cookie
//	POST /ops/logout        ends the session
//	GET  /ops/assets/…      the style sheet and the script (no token needed)
//
// A request proves it holds the token with "Authorization: Bearer <token>",
// or with the session cookie a browser gets once it gave the token. The
// cookie is HttpOnly and SameSite=Strict, holds an expiry and an HMAC under
// a key derived from the token (never the token itself), and lasts
// defaults.OpsSession; replacing the token file and restarting the broker
// ends every session.
type dashboard struct {
	s          *Service
	token      [sha256.Size]byte // SHA-256 of the operators' token
	sessionKey []byte            // HMAC key of session cookies, derived from the token
	tmpl       *template.Template
	assets     http.Handler
	// crossOrigin refuses forms posted from other sites.
	crossOrigin *http.CrossOriginProtection
	now         func() time.Time

	mu      sync.Mutex // guards samples
	samples []sample
}

// mountDashboard loads the operators' token (creating it in a data
// directory from before the dashboard), registers the gauges of the
// deployment's state on the metrics registry, and adds the dashboard's
// routes to mux.
func (s *Service) mountDashboard(mux *http.ServeMux) error {
	path, created, err := provision.EnsureOpsToken(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	if created {
		s.cfg.Logger.Info("created the operators' dashboard token", "path", path)
	}
	tok, err := provision.LoadOpsToken(path)
	if err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	verifiers, err := keys.AuditKeyHistory(layout.BrokerKeys(s.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("service: dashboard: audit keys: %w", err)
	}
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	state := &opsState{s: s, nats: s.nats, js: js, verifiers: verifiers}
	if err := s.Metrics.RegisterOps(state.ops); err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	tmpl, err := template.New("").Funcs(templateFuncs).ParseFS(dashboardFiles, "dashboard/*.html")
	if err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	static, err := fs.Sub(dashboardFiles, "dashboard/assets")
	if err != nil {
		return fmt.Errorf("service: dashboard: %w", err)
	}
	key := sha256.Sum256([]byte("sekretessbroker ops session\x00" + tok))
	d := &dashboard{
		s: s, token: sha256.Sum256([]byte(tok)), sessionKey: key[:], tmpl: tmpl,
		assets:      http.StripPrefix("/ops/assets/", http.FileServerFS(static)),
		crossOrigin: http.NewCrossOriginProtection(), now: time.Now,
	}
	mux.Handle("GET /{$}", d.guard(d.page))
	mux.Handle("GET /ops/panel", d.guard(d.requireAuth(d.panel)))
	mux.Handle("GET /ops/api/summary", d.guard(d.requireAuth(d.summary)))
	mux.Handle("POST /ops/login", d.guard(d.login))
	mux.Handle("POST /ops/logout", d.guard(d.logout))
	mux.Handle("GET /ops/assets/", d.guard(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no listing of the folder
			return
		}
		d.assets.ServeHTTP(w, r)
	}))
	return nil
}

// guard sets the security headers and refuses oversized query strings
// before h runs.
func (d *dashboard) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		if len(r.URL.RawQuery) > maxOpsQuery {
			http.Error(w, fmt.Sprintf("414 query string over %d bytes", maxOpsQuery), http.StatusRequestURITooLong)
			return
		}
		h(w, r)
	})
}

// requireAuth lets only the token's holder through to h.
func (d *dashboard) requireAuth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.authorized(r) {
			d.unauthorized(w, r, "")
			return
		}
		h(w, r)
	}
}

// authorized reports whether r carries the token as a bearer token or a
// valid session cookie. A request with an Authorization header is judged by
// it alone.
func (d *dashboard) authorized(r *http.Request) bool {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		return ok && d.tokenOK(tok)
	}
	c, err := r.Cookie(opsCookie)
	return err == nil && d.sessionOK(c.Value)
}

// tokenOK compares tok with the operators' token in constant time (over
// their hashes, so that the length is not given away either).
func (d *dashboard) tokenOK(tok string) bool {
	h := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(h[:], d.token[:]) == 1
}

// session returns a session cookie's value valid until exp: the expiry in
// Unix seconds and its HMAC.
func (d *dashboard) session(exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, d.sessionKey)
	m.Write([]byte(e))
	return e + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionOK checks a session cookie's HMAC and expiry.
func (d *dashboard) sessionOK(v string) bool {
	e, _, ok := strings.Cut(v, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return false
	}
	want := d.session(time.Unix(sec, 0))
	return hmac.Equal([]byte(v), []byte(want)) && d.now().Before(time.Unix(sec, 0))
}

// setSession gives the browser a session cookie and sends it to the page,
// so that the token leaves the address bar and the history.
func (d *dashboard) setSession(w http.ResponseWriter, r *http.Request) {
	exp := d.now().Add(defaults.OpsSession)
	http.SetCookie(w, &http.Cookie{
		Name: opsCookie, Value: d.session(exp), Path: "/", Expires: exp, MaxAge: int(defaults.OpsSession.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// unauthorized answers 401 with the bearer challenge: a browser gets the
// sign-in form, a program a line that says what to send.
func (d *dashboard) unauthorized(w http.ResponseWriter, r *http.Request, problem string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="sekretessbroker"`)
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Error(w, "401 unauthorized: send Authorization: Bearer <the token in "+filepath.Join("<data>", layout.BrokerDir, layout.OpsTokenFile)+">", http.StatusUnauthorized)
		return
	}
	d.render(w, http.StatusUnauthorized, "login", map[string]string{"Problem": problem})
}

// page serves the dashboard, or the sign-in form without the token. A token
// in the query string signs the browser in and is dropped from the address.
func (d *dashboard) page(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Has("token") {
		if d.tokenOK(q.Get("token")) {
			d.setSession(w, r)
			return
		}
		d.unauthorized(w, r, "Fel token. / Wrong token.")
		return
	}
	if !d.authorized(r) {
		d.unauthorized(w, r, "")
		return
	}
	d.render(w, http.StatusOK, "page", d.view())
}

// panel serves the page's numbers as the fragment its script swaps in.
func (d *dashboard) panel(w http.ResponseWriter, _ *http.Request) {
	d.render(w, http.StatusOK, "panel", d.view())
}

// summary serves the page's numbers as JSON.
func (d *dashboard) summary(w http.ResponseWriter, _ *http.Request) {
	b, err := json.MarshalIndent(d.view(), "", "  ")
	if err != nil {
		http.Error(w, "500 "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// login takes the token from the sign-in form.
func (d *dashboard) login(w http.ResponseWriter, r *http.Request) {
	if !d.sameOrigin(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxOpsForm)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, fmt.Sprintf("%d bad sign-in form (at most %d bytes, application/x-www-form-urlencoded): %v", status, maxOpsForm, err), status)
		return
	}
	if !d.tokenOK(r.PostForm.Get("token")) {
		d.unauthorized(w, r, "Fel token. / Wrong token.")
		return
	}
	d.setSession(w, r)
}

// logout ends the browser's session.
func (d *dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if !d.sameOrigin(w, r) {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: opsCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sameOrigin refuses a form posted from another site, as the standard
// library's cross-origin protection judges it (Sec-Fetch-Site, or Origin
// against Host).
func (d *dashboard) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := d.crossOrigin.Check(r); err != nil {
		http.Error(w, "403 forbidden: the form was posted from another site: "+err.Error(), http.StatusForbidden)
		return false
	}
	return true
}

// render executes template name into a buffer first, so that a failure is a
// clean 500 instead of half a page.
func (d *dashboard) render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := d.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		d.s.cfg.Logger.Error("dashboard: template", "template", name, "err", err)
		http.Error(w, "500 the page could not be rendered; see the broker's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}
