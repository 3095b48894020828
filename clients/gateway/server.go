// Package gateway is the agency gateway: an HTTP JSON API through which an
// agency's case-management systems send and receive messages through the
// broker, run at the agency with the agency's own keys and never at the
// broker. The API is specified in openapi.yaml (served at
// GET /v1/openapi.yaml).
//
// The gateway is one agency's client of the broker (package agency): it
// seals, signs and sends what a calling system posts, waits for the
// broker's signed decision, takes every delivery into the agency's inbox
// (package inbox) and tells the calling systems of deliveries and decisions
// by Server-Sent Events and an optional signed webhook.
//
// What the law attaches to received data is enforced here too, before
// anything is sent: data received with "fu-secrecy: do not forward" or
// under a consent ("within-consent-scope") is not forwarded.
//
// Each calling system authenticates with a bearer token or a TLS client
// certificate named in the configuration file (FileConfig); the token of
// the "default" system is written to the agency's home on the first start
// (EnsureToken). A POST with an Idempotency-Key gets the same answer
// however often it is repeated, across restarts of the gateway and the
// broker: the gateway keeps the sealed envelope and the answer in the
// agency's home (<home>/gateway/).
package gateway

import (
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// OpenAPI is the API's specification, openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Server is a running gateway of one agency.
type Server struct {
	cfg     Config
	log     *slog.Logger
	dir     *directory.Directory
	self    *directory.Agency
	client  *agency.Client
	box     *inbox.Box
	store   *store
	hub     *hub
	pkey    *pseudonym.Key // nil when the home has no pseudonym key
	systems []system
	handler http.Handler

	ctx    context.Context // the server's life; cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed by stopStreams, ends the event streams
	once   sync.Once
	wg     sync.WaitGroup

	mu      sync.Mutex
	waiters map[string]chan struct{} // message id → closed once decided
}

// New loads the agency's keys and the directory, connects to the broker
// (waiting for it, while ctx allows, when it is not up yet), and starts
// taking deliveries into the inbox. Close stops it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Agency == "" || cfg.Home == "" || cfg.DirectoryFile == "" {
		return nil, errors.New("gateway: Config needs Agency, Home and DirectoryFile")
	}
	if cfg.NATSURL == "" {
		cfg.NATSURL = defaults.NATSURL
	}
	if cfg.ReceiptWait <= 0 {
		cfg.ReceiptWait = defaults.AckWait
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = defaults.GatewayMaxBody
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("agency", cfg.Agency)
	dir, err := directory.Load(cfg.DirectoryFile)
	if err != nil {
		return nil, fmt.Errorf("gateway: the agency directory: %w", err)
	}
	self, ok := dir.Lookup(cfg.Agency)
	if !ok {
		return nil, fmt.Errorf("gateway: agency %q is not in the directory %s", cfg.Agency, cfg.DirectoryFile)
	}
	id, err := agency.LoadIdentity(cfg.Home, cfg.Agency)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	list, err := systems(cfg.Home, cfg.File)
	if err != nil {
		return nil, err
	}
	box, err := inbox.Open(layout.HomeInbox(cfg.Home))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	st, err := openStore(cfg.Home)
	if err != nil {
		return nil, err
	}
	var pkey *pseudonym.Key
	if p := layout.HomePseudonymKey(cfg.Home); exists(p) {
		if pkey, err = pseudonym.LoadKey(p); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	var secret []byte
	if wh := cfg.File.Webhook; wh != nil {
		if secret, err = webhookSecret(wh); err != nil {
			return nil, err
		}
	}
	acfg := agency.Config{URL: cfg.NATSURL, Identity: id, Directory: dir, TLSCA: cfg.TLSCA, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey}
	if acfg.TLSCA != "" && acfg.TLSCert == "" && acfg.TLSKey == "" {
		if cert := filepath.Join(cfg.Home, tlsca.ClientCertFile); exists(cert) {
			acfg.TLSCert, acfg.TLSKey = cert, filepath.Join(cfg.Home, tlsca.ClientKeyFile)
		}
	}
	client, err := dial(ctx, acfg, log)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: log, dir: dir, self: self, client: client, box: box, store: st, hub: newHub(),
		pkey: pkey, systems: list, ctx: sctx, cancel: cancel, done: make(chan struct{}),
		waiters: map[string]chan struct{}{},
	}
	if cfg.Desk == nil && cfg.NewDesk != nil {
		if s.cfg.Desk, err = cfg.NewDesk(s); err != nil {
			client.Close()
			cancel()
			return nil, fmt.Errorf("gateway: the desk: %w", err)
		}
	}
	s.handler = s.routes()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.receive() }()
	if wh := cfg.File.Webhook; wh != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runWebhook(sctx, wh.URL, secret) }()
	}
	// Messages sent before a restart whose decision had not arrived: their
	// decisions are still awaited, and a message that may not have reached
	// the broker is published again, as the same envelope.
	pending, err := st.pending()
	if err != nil {
		log.Warn("some records of sent messages cannot be read; their retries will send anew", "err", err)
	}
	for _, r := range pending {
		s.await(r)
	}
	return s, nil
}

// dial connects to the broker, trying again while the broker is not up, so
// that a gateway may be started before the broker.
func dial(ctx context.Context, cfg agency.Config, log *slog.Logger) (*agency.Client, error) {
	pause := 500 * time.Millisecond
	for {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := agency.Dial(dctx, cfg)
		cancel()
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, agency.ErrUnreachable) || ctx.Err() != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		log.Warn("the broker is not reachable yet; trying again", "url", cfg.URL, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("gateway: %w", err)
		case <-t.C:
		}
		pause = min(2*pause, 10*time.Second)
	}
}

func webhookSecret(wh *WebhookConfig) ([]byte, error) {
	if wh.URL == "" {
		return nil, errors.New("gateway: webhook: url is empty")
	}
	if wh.Secret != "" && wh.SecretFile != "" {
		return nil, errors.New("gateway: webhook: give secret_file or secret, not both")
	}
	secret := []byte(wh.Secret)
	if wh.SecretFile != "" {
		b, err := os.ReadFile(wh.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("gateway: webhook: %w", err)
		}
		secret = []byte(trimNL(string(b)))
	}
	if len(secret) < 16 {
		return nil, errors.New("gateway: webhook: the secret must be at least 16 bytes")
	}
	return secret, nil
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// Handler returns the gateway's HTTP handler: the API under /v1/, the desk
// under /desk/ when configured, and /healthz.
func (s *Server) Handler() http.Handler { return s.handler }

// Agency returns the gateway's connection to the broker, for a desk served
// beside the API.
func (s *Server) Agency() *agency.Client { return s.client }

// Inbox returns the agency's inbox, which the gateway fills: it takes every
// delivery into it as it comes, so a desk beside it need not fetch.
func (s *Server) Inbox() *inbox.Box { return s.box }

// AgencyID returns the id of the agency the gateway acts for.
func (s *Server) AgencyID() string { return s.self.ID }

// Directory returns the agency directory the gateway connected with.
func (s *Server) Directory() *directory.Directory { return s.dir }

// PseudonymKey returns the agency's copy of the pseudonym key, or nil when
// its home has none.
func (s *Server) PseudonymKey() *pseudonym.Key { return s.pkey }

// File returns the gateway's configuration file as read, whose Users and
// Desk settings are the desk's.
func (s *Server) File() FileConfig { return s.cfg.File }

// Close stops taking deliveries, ends the event streams and closes the
// connection to the broker. Decisions still awaited are awaited again on
// the next start.
func (s *Server) Close() error {
	s.cancel()
	s.stopStreams()
	s.wg.Wait()
	return s.client.Close()
}

// ListenAndServe serves the gateway on addr (HTTPS when the configuration
// file says so) until ctx is done, then shuts the listener down, letting
// requests in flight finish.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener of the caller's.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	if h := s.cfg.File.HTTPS; h != nil {
		tc, err := serverTLS(h)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	// The event streams end with the server.
	s.stopStreams()
	sctx, cancel := context.WithTimeout(context.Background(), defaults.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	return nil
}

// stopStreams ends the event streams, once.
func (s *Server) stopStreams() { s.once.Do(func() { close(s.done) }) }

// serverTLS is the TLS configuration of an HTTPS gateway: client
// certificates are asked for, and verified against the client CA when one
// is given; without one, a certificate counts only by its pinned hash.
func serverTLS(h *HTTPSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(h.Cert, h.Key)
	if err != nil {
		return nil, fmt.Errorf("gateway: https: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, ClientAuth: tls.RequestClientCert}
	if h.ClientCA != "" {
		pool, err := tlsca.Pool(h.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("gateway: https: %w", err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// receive takes every delivery into the inbox, acknowledging it only once
// it is stored with its decision, and tells the calling systems.
func (s *Server) receive() {
	pause := 500 * time.Millisecond
	for {
		d, err := s.client.Next(s.ctx)
		if s.ctx.Err() != nil {
			return
		}
		if err == nil {
			if err = s.box.Save(d); err == nil {
				err = d.Ack()
			}
		}
		if err != nil {
			if errors.Is(err, agency.ErrBadKey) {
				s.log.Warn("a delivery cannot be opened with this agency's keys and stays at the broker", "err", err)
			} else {
				s.log.Error("receiving deliveries", "err", err)
			}
			t := time.NewTimer(pause)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, 10*time.Second)
			continue
		}
		pause = 500 * time.Millisecond
		e := s.hub.publish(Event{Type: EventDelivery, ID: d.ID, From: d.From, To: s.self.ID, Kind: d.Kind,
			Allow: true, Rule: d.Decision.Rule, Obligations: d.Decision.Obligations})
		s.log.Info("delivered", e.logAttrs()...)
	}
}

// isNotExist reports a missing record.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// writeJSONResponse writes v as the JSON body of a response with status.
func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, "the answer could not be encoded")
		return
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}
