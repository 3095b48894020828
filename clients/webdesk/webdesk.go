// Package webdesk is the web desk of an agency's gateway: officials at a
// school, the police or social services sign in, read their inbox with the
// broker's decision and obligations on each message, and do each step of an
// exchange the law allows through a form that asks for exactly what the law
// requires (package forms, shared with the terminal clients). Every
// assessment is recorded with the official's name.
//
// The pages are server-rendered with html/template and need no JavaScript.
// Every POST carries a CSRF token; sessions live in HttpOnly SameSite=Strict
// cookies; every answer forbids caching and carries a strict CSP. A child is
// named by personnummer in a form's body only, never in a URL or a log line:
// messages carry the keyed pseudonym.
package webdesk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// Config is what the desk acts with.
type Config struct {
	// Client is the agency's SDK client, connected with the agency's keys.
	Client *agency.Client
	// AgencyID is the agency's id; Directory is the agency directory the
	// client was dialled with: it gives the agency's kind and the parties
	// the forms offer as recipients.
	AgencyID  string
	Directory *directory.Directory
	// Users may sign in; at least one is needed.
	Users []User
	// IdentityHeader, when set, names the request header in which a
	// trusted identity proxy in front of the desk passes the signed-in
	// user's Name; the password sign-in is then off. Set it only when the
	// proxy strips the header from what clients send.
	IdentityHeader string
	// Pseudonym is the deployment's pseudonym key (pseudonym.key in the
	// agency's home): officials type a personnummer, messages carry its
	// keyed pseudonym.
	Pseudonym *pseudonym.Key
	// Inbox keeps received messages with their decisions (clients/inbox).
	Inbox *inbox.Box
	// Fetch, when set, moves new deliveries into Inbox; the inbox page calls
	// it before it lists. Set it when something else (the gateway's API)
	// takes deliveries from Client. When nil, the desk takes them from
	// Client itself, for at most FetchWait per page.
	Fetch func(ctx context.Context) error
	// FetchWait bounds how long the inbox page waits for new deliveries
	// when the desk fetches them itself; zero means one second.
	FetchWait time.Duration
	// BasePath is where the desk is mounted, e.g. "/desk/"; empty means "/".
	BasePath string
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// (behind a TLS-terminating proxy). It is always Secure over TLS.
	SecureCookies bool
	// Logger receives one line per action: who, what, which message, and
	// the outcome. Never a personnummer or a message's content. Nil: slog's
	// default.
	Logger *slog.Logger
}

// desk is the web desk of one agency.
type desk struct {
	cfg      Config
	self     *directory.Agency
	base     string
	users    map[string]*User
	dummy    string // a hash to verify against for unknown names
	sessions *sessions
	secret   []byte
	log      *slog.Logger
	fetchMu  sync.Mutex
	unopened map[string]bool // deliveries this agency's keys could not open
	pages    *pages
}

// New returns the desk's handler, to be mounted at cfg.BasePath.
func New(cfg Config) (http.Handler, error) {
	if cfg.Client == nil || cfg.Directory == nil || cfg.Inbox == nil || cfg.Pseudonym == nil {
		return nil, errors.New("webdesk: Config needs the agency's Client, Directory, Inbox and Pseudonym key")
	}
	self, ok := cfg.Directory.Lookup(cfg.AgencyID)
	if !ok {
		return nil, fmt.Errorf("webdesk: agency %q is not in the directory", cfg.AgencyID)
	}
	switch self.Kind {
	case directory.KindPolice, directory.KindSchool, directory.KindSocialServices:
	default:
		return nil, fmt.Errorf("webdesk: agency %q is a %s; the desk serves the police, schools and social services", self.ID, self.Kind)
	}
	if len(cfg.Users) == 0 {
		return nil, errors.New("webdesk: no users: give each official a name, display name, role and password hash")
	}
	d := &desk{cfg: cfg, self: self, users: map[string]*User{}, sessions: newSessions(time.Now),
		log: cfg.Logger, unopened: map[string]bool{}}
	if d.log == nil {
		d.log = slog.Default()
	}
	d.log = d.log.With("component", "webdesk", "agency", self.ID)
	for i := range cfg.Users {
		u := &cfg.Users[i]
		switch {
		case u.Name == "" || strings.ContainsAny(u.Name, " \t\r\n"):
			return nil, fmt.Errorf("webdesk: user %d: the name %q must be one word", i+1, u.Name)
		case strings.TrimSpace(u.DisplayName) == "":
			return nil, fmt.Errorf("webdesk: user %s: give the display name (\"Förnamn Efternamn, titel\"): it is recorded with every assessment", u.Name)
		case d.users[u.Name] != nil:
			return nil, fmt.Errorf("webdesk: user %s is given twice", u.Name)
		case u.PasswordHash == "" && cfg.IdentityHeader == "":
			return nil, fmt.Errorf("webdesk: user %s has no password hash (make one with webdesk.HashPassword)", u.Name)
		}
		if u.PasswordHash != "" {
			if err := checkHash(u.PasswordHash); err != nil {
				return nil, fmt.Errorf("webdesk: user %s: password hash: %w", u.Name, err)
			}
		}
		d.users[u.Name] = u
	}
	var err error
	if d.dummy, err = HashPassword("no such user"); err != nil {
		return nil, err
	}
	d.secret = make([]byte, 32)
	if _, err := rand.Read(d.secret); err != nil {
		return nil, fmt.Errorf("webdesk: %w", err)
	}
	d.base = "/" + strings.Trim(cfg.BasePath, "/") + "/"
	if d.base == "//" {
		d.base = "/"
	}
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	d.routes(mux)
	inner := http.Handler(mux)
	if d.base != "/" {
		inner = http.StripPrefix(strings.TrimSuffix(d.base, "/"), mux)
	}
	// Cross-origin POSTs are refused by the browser's own Fetch metadata
	// before the CSRF token is looked at.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, http.StatusForbidden, "Begäran kom från en annan webbplats och har inte utförts.")
	}))
	return d.headers(cop.Handler(inner)), nil
}

// headers sets the security headers of every answer.
func (d *desk) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

const (
	sessionCookie = "desk_session"
	loginCookie   = "desk_login"
)

// who returns the signed-in official and the CSRF token their forms carry.
func (d *desk) who(r *http.Request) (*User, string) {
	if d.cfg.IdentityHeader != "" {
		u := d.users[r.Header.Get(d.cfg.IdentityHeader)]
		if u == nil {
			return nil, ""
		}
		return u, proxyCSRF(d.secret, u.Name)
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, ""
	}
	s := d.sessions.get(c.Value)
	if s == nil {
		return nil, ""
	}
	return s.user, s.csrf
}

// action is a page for a signed-in official; POSTs have passed the CSRF check.
type action func(w http.ResponseWriter, r *http.Request, u *User, csrf string)

// signedIn wraps a page: it needs a signed-in official, and a POST the
// session's CSRF token.
func (d *desk) signedIn(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, csrf := d.who(r)
		if u == nil {
			if d.cfg.IdentityHeader != "" {
				d.fail(w, r, http.StatusUnauthorized, "Du är inte inloggad: inloggningstjänsten angav ingen känd användare.")
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, d.base+"login", http.StatusSeeOther)
				return
			}
			d.fail(w, r, http.StatusUnauthorized, "Du är inte inloggad, eller sessionen har gått ut. Logga in igen; inget har skickats.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				d.fail(w, r, http.StatusBadRequest, "Formuläret kunde inte läsas (för stort eller felaktigt). Inget har skickats.")
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), csrf) {
				d.log.Warn("desk form without a valid CSRF token", "user", u.Name, "path", r.URL.Path)
				d.fail(w, r, http.StatusForbidden, "Formuläret saknar giltig säkerhetskod (CSRF). Ladda om sidan och försök igen; inget har skickats.")
				return
			}
		}
		a(w, r, u, csrf)
	}
}

// maxForm bounds a form's body: a message's text is at most this long.
const maxForm = 256 << 10

// routes registers the desk's pages, relative to the base path.
func (d *desk) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/desk.css", d.css)
	mux.HandleFunc("GET /login", d.loginPage)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.signedIn(d.logout))
	mux.HandleFunc("GET /{$}", d.signedIn(d.inbox))
	mux.HandleFunc("GET /m/{id}", d.signedIn(d.message))
	mux.HandleFunc("POST /m/{id}/answer", d.signedIn(d.answer))
	mux.HandleFunc("POST /m/{id}/answer-fu", d.signedIn(d.answerFU))
	mux.HandleFunc("POST /m/{id}/feedback", d.signedIn(d.feedback))
	mux.HandleFunc("POST /m/{id}/forward", d.signedIn(d.forward))
	mux.HandleFunc("POST /m/{id}/handled", d.signedIn(d.handled))
	mux.HandleFunc("GET /concern", d.signedIn(d.concernPage))
	mux.HandleFunc("POST /concern", d.signedIn(d.concern))
	mux.HandleFunc("GET /request", d.signedIn(d.requestPage))
	mux.HandleFunc("POST /request", d.signedIn(d.request))
	mux.HandleFunc("GET /request-fu", d.signedIn(d.requestFUPage))
	mux.HandleFunc("POST /request-fu", d.signedIn(d.requestFU))
	mux.HandleFunc("GET /consents", d.signedIn(d.consentsPage))
	mux.HandleFunc("POST /consents", d.signedIn(d.recordConsent))
	mux.HandleFunc("POST /consents/show", d.signedIn(d.showConsent))
	mux.HandleFunc("POST /consents/withdraw", d.signedIn(d.withdrawConsent))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, http.StatusNotFound, "Sidan finns inte.")
	})
}
