// Package natsserver runs the embedded NATS server with JetStream on local
// disk: the default deployment, where one command starts everything.
//
// Agencies authenticate with their nkeys from the directory and may touch only
// their own subjects (see package bus). Larger deployments run a NATS cluster
// instead and point the broker at it; nothing here is needed then.
package natsserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

// Config configures the embedded server.
type Config struct {
	// DataDir holds JetStream's files, under DataDir/jetstream.
	DataDir string
	// Host to listen on; agencies on other machines need a routable address.
	Host string
	// Port to listen on; -1 picks a random free port.
	Port int
	// MaxPayload bounds one NATS message; it must exceed the largest envelope.
	MaxPayload int32
	// Directory supplies the agencies' nkeys. The broker's own nkey comes from
	// Directory.Broker.NATS.NKey.
	Directory *directory.Directory
	// Logger receives the server's log (notices at info, warnings, errors)
	// and its security events (permission violations, failed
	// authentications).
	Logger *slog.Logger
	// Debug passes the server's debug output to Logger at debug level.
	Debug bool
	// Trace passes the server's protocol trace to Logger at debug level:
	// every operation of every client with its subject, but never the
	// message bytes (see serverLog.Tracef). For finding faults only: the
	// subjects name agencies and message ids, and it is voluminous.
	Trace bool
	// Metrics, if set, count the security events.
	Metrics *metrics.Metrics
	// NoSync trades durability for throughput: JetStream acknowledges a
	// write before it reaches the disk, so a power loss (not a crash of the
	// process) can lose acknowledged messages and audit records.
	NoSync bool
	// TLS, when set, is the server's TLS configuration (see
	// tlsca.ServerConfig): every client must then speak TLS, and with
	// TLS.ClientAuth set to tls.RequireAndVerifyClientCert also present a
	// certificate of TLS.ClientCAs. Nkey authentication applies on top.
	TLS *tls.Config
	// EncryptionKey, when set, encrypts JetStream's files with
	// ChaCha20-Poly1305 under this key (see EnsureKey); files written in
	// plaintext earlier are converted on start.
	EncryptionKey string
}

// withDefaults returns c with every unset field that has a default filled in.
func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first required field that is missing. It changes
// nothing; run withDefaults first.
func (c Config) validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("natsserver: DataDir is required")
	case c.Host == "":
		return errors.New("natsserver: Host is required")
	case c.Directory == nil:
		return errors.New("natsserver: Directory is required")
	case len(c.Directory.Broker.NKeysAt(time.Now())) == 0:
		return errors.New("natsserver: the directory has no usable broker nkey (broker keys: nkey); run brokerctl init")
	}
	return nil
}

// Server is a running embedded NATS server.
type Server struct {
	cfg Config
	log *serverLog
	mu  sync.Mutex
	ns  *server.Server
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: &serverLog{log: cfg.Logger, metrics: cfg.Metrics}}
	s.log.setDirectory(cfg.Directory)
	ns, err := server.NewServer(s.options(cfg.Directory))
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	// Debug and trace only when asked for; the system account's trace
	// never (it is JetStream's internal traffic, message bytes included).
	ns.SetLoggerV2(s.log, cfg.Debug, cfg.Trace, false)
	ns.Start()
	if !ns.ReadyForConnections(defaults.ServerReadyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsserver: not ready for connections after %s; is the port free and the data directory writable?", defaults.ServerReadyTimeout)
	}
	s.ns = ns
	cfg.Logger.Info("embedded NATS server started", "url", ns.ClientURL(), "jetstream", layout.JetStream(cfg.DataDir))
	return s, nil
}

func (s *Server) options(d *directory.Directory) *server.Options {
	users := Users(d)
	opts := &server.Options{
		ServerName: "sekretessbroker",
		Host:       s.cfg.Host,
		Port:       s.cfg.Port,
		MaxPayload: s.cfg.MaxPayload,
		JetStream:  true,
		StoreDir:   layout.JetStream(s.cfg.DataDir),
		// One node and no replicas: a PubAck must mean the bytes are on
		// disk, or a power loss could keep a delivery and lose its audit
		// record (the two streams' files are flushed independently).
		SyncAlways: !s.cfg.NoSync,
		Nkeys:      users,
		NoSigs:     true,
		// The server does not configure a logger of its own: its log goes
		// to the broker's, set with SetLoggerV2 in Start.
		NoLog: true,
	}
	if s.cfg.EncryptionKey != "" {
		opts.JetStreamKey = s.cfg.EncryptionKey
		opts.JetStreamCipher = server.ChaCha
	}
	if s.cfg.TLS != nil {
		// The same *tls.Config on every reload: a new one would read as a
		// change of the TLS settings.
		opts.TLSConfig = s.cfg.TLS
		opts.TLS = true
		opts.TLSVerify = s.cfg.TLS.ClientAuth == tls.RequireAndVerifyClientCert
		// Seconds for the handshake: generous for loaded machines (default 2).
		opts.TLSTimeout = 5
	}
	return opts
}

// Users returns the NATS users of a directory now: the broker with every
// right, each auditor with read rights on the audit log
// (bus.AuditorPermissions), each agency with only its own subjects
// (bus.AgencyPermissions).
// Every nkey of a party's keys that is neither revoked nor expired is a
// user, so an agency can log in with its old or its new key while it
// rotates; a revoked key's nkey is not, and a reload with it revoked cuts
// its connections off.
func Users(d *directory.Directory) []*server.NkeyUser {
	return usersAt(d, time.Now())
}

func usersAt(d *directory.Directory, now time.Time) []*server.NkeyUser {
	var users []*server.NkeyUser
	for _, nk := range d.Broker.NKeysAt(now) {
		users = append(users, &server.NkeyUser{
			Nkey: nk,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: []string{">"}},
			},
		})
	}
	apub, asub := bus.AuditorPermissions()
	for _, a := range d.Auditors {
		users = append(users, &server.NkeyUser{
			Nkey: a.NKey,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: apub},
				Subscribe: &server.SubjectPermission{Allow: asub},
			},
		})
	}
	for i := range d.Agencies {
		a := &d.Agencies[i]
		pub, sub := bus.AgencyPermissions(a.ID)
		for _, nk := range a.NKeysAt(now) {
			users = append(users, &server.NkeyUser{
				Nkey: nk,
				Permissions: &server.Permissions{
					Publish:   &server.SubjectPermission{Allow: pub},
					Subscribe: &server.SubjectPermission{Allow: sub},
				},
			})
		}
	}
	return users
}

// AuthorizationConfig renders the users of a directory as a nats-server
// configuration block, for deployments on an existing NATS cluster: include
// it in every node's configuration and reload the servers after each
// directory change, so that agencies there have exactly the rights the
// embedded server would give them.
func AuthorizationConfig(d *directory.Directory) []byte {
	var b strings.Builder
	b.WriteString("# Generated from the sekretessbroker agency directory by \"brokerctl nats-config\".\n")
	b.WriteString("# Do not edit: regenerate after every directory change, then reload the servers.\n")
	b.WriteString("authorization {\n  users = [\n")
	names := map[string]string{}
	for _, k := range d.Broker.Keys {
		names[k.NKey] = "the broker, key " + k.ID
	}
	for _, a := range d.Agencies {
		for _, k := range a.Keys {
			names[k.NKey] = a.ID + ", key " + k.ID
		}
	}
	for _, a := range d.Auditors {
		names[a.NKey] = "auditor " + a.Name + " (reads the audit log)"
	}
	for _, u := range Users(d) {
		fmt.Fprintf(&b, "    # %s\n    {nkey: %s, permissions: {publish: {allow: %s}, subscribe: {allow: %s}}}\n",
			names[u.Nkey], quote(u.Nkey), quoteList(u.Permissions.Publish.Allow), quoteList(u.Permissions.Subscribe.Allow))
	}
	b.WriteString("  ]\n}\n")
	return []byte(b.String())
}

// quote writes s as a double-quoted string, which the nats-server
// configuration format reads literally: no variable expansion inside quotes.
func quote(s string) string { return strconv.Quote(s) }

func quoteList(l []string) string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = quote(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ClientURL returns the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Update applies a new directory's agencies: new agencies and keys can
// connect; connections of removed agencies and of revoked or expired keys
// are closed. Existing connections of unchanged keys stay up.
func (s *Server) Update(d *directory.Directory) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	opts := s.options(d)
	// A random port was resolved at start; a reload must keep the bound one.
	if addr, ok := s.ns.Addr().(*net.TCPAddr); ok {
		opts.Port = addr.Port
	}
	if err := s.ns.ReloadOptions(opts); err != nil {
		return fmt.Errorf("natsserver: apply directory: %w", err)
	}
	s.log.setDirectory(d)
	return nil
}

// Shutdown stops the server and waits until it has stopped, so JetStream's
// files are closed before the process exits.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
