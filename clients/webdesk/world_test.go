package webdesk_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
	"github.com/sekretessbroker/sekretessbroker/clients/webdesk"
)

// The officials of the test desks, one per agency, all with this password.
const password = "korrekt häst batteri"

var officials = map[string]webdesk.User{
	brokertest.School: {Name: "rektor", DisplayName: "Eva Berg, rektor", Role: "rector"},
	brokertest.Social: {Name: "handlaggare", DisplayName: "Malin Ellström, socialsekreterare", Role: "social worker"},
	brokertest.Police: {Name: "polis", DisplayName: "Jonas Lind, områdespolis", Role: "police officer"},
}

// syncBuffer is a log sink the desks write to from their handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// world is a real broker with the three demo agencies, each with its own
// desk on a loopback HTTP server, mounted at /desk/ as the gateway does.
type world struct {
	dep   *brokertest.Deployment
	desks map[string]*httptest.Server
	cfgs  map[string]webdesk.Config
	logs  *syncBuffer
}

func newWorld(t *testing.T, mod func(id string, cfg *webdesk.Config)) *world {
	t.Helper()
	w := &world{dep: brokertest.NewDeployment(t, brokertest.Options{}), desks: map[string]*httptest.Server{}, cfgs: map[string]webdesk.Config{}, logs: &syncBuffer{}}
	w.dep.Start(t, nil)
	hash, err := webdesk.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{brokertest.School, brokertest.Social, brokertest.Police} {
		key, err := pseudonym.LoadKey(filepath.Join(w.dep.Home(id), pseudonym.KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		box, err := inbox.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		u := officials[id]
		u.PasswordHash = hash
		cfg := webdesk.Config{Client: w.dep.Dial(t, id), AgencyID: id, Directory: w.dep.Directory(t),
			Users: []webdesk.User{u}, Pseudonym: key, Inbox: box, BasePath: "/desk/",
			Logger: slog.New(slog.NewTextHandler(w.logs, nil))}
		if mod != nil {
			mod(id, &cfg)
		}
		w.cfgs[id] = cfg
		h, err := webdesk.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/desk/", h)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		w.desks[id] = srv
	}
	return w
}

// browser is an HTTP client with its own cookies, for one official.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (w *world) browser(t *testing.T, id string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: w.desks[id].URL + "/desk/", c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the status and body.
func (b *browser) do(method, path string, form url.Values, header ...string) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res.StatusCode, string(out)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	status, page := b.do("GET", path, nil)
	m := csrfRE.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF token:\n%s", path, status, page)
	}
	return m[1]
}

// signIn signs the agency's official in.
func (b *browser) signIn(id string) {
	b.t.Helper()
	tok := b.csrf("login")
	status, page := b.do("POST", "login", url.Values{"csrf": {tok}, "name": {officials[id].Name}, "password": {password}})
	if status != http.StatusSeeOther {
		b.t.Fatalf("sign-in of %s: %d\n%s", id, status, page)
	}
}

// post fills in the form at page and posts it to action with the page's CSRF token.
func (b *browser) post(page, action string, form url.Values) (int, string) {
	b.t.Helper()
	form.Set("csrf", b.csrf(page))
	return b.do("POST", action, form)
}
