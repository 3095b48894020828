// Package service assembles a running broker from a data directory: keys,
// agency directory, policy engine, audit log, NATS (embedded or external), the
// pipeline and the HTTP endpoints. cmd/sekretessbroker is a thin wrapper
// around it, and the end-to-end tests start exactly the same thing.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sekretessbroker/sekretessbroker/broker"
	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
)

// Config configures a Service.
type Config struct {
	// DataDir holds the broker's keys, the directory and, when NATS is
	// embedded, JetStream's files (the audit log among them).
	DataDir string
	// DirectoryPath overrides DataDir/directory.yaml.
	DirectoryPath string
	// PolicyDir is the directory of Rego policies.
	PolicyDir string
	// PolicyObserve, if set, sees every policy input and decision (see
	// policy.Config.Observe); the tests check the inputs against the schema.
	PolicyObserve func(input map[string]any, d policy.Decision)
	// NATSURL connects to an existing NATS deployment; empty embeds a server.
	NATSURL string
	// NATSListen is the embedded server's address, host:port; port 0 picks a
	// free one. Empty means defaults.NATSListen.
	NATSListen string
	// NoSync lets the embedded server acknowledge writes before they reach
	// the disk (see natsserver.Config.NoSync).
	NoSync bool
	// TLSCert and TLSKey are the embedded server's certificate and key
	// files; with them every client must speak TLS.
	TLSCert, TLSKey string
	// TLSClientCA makes the embedded server accept only clients presenting a
	// certificate this CA issued (mutual TLS), on top of their nkeys.
	TLSClientCA string
	// TLSCA is the CA file the broker's own NATS connection trusts; with the
	// embedded server it defaults to the server's certificate itself.
	TLSCA string
	// TLSClientCert and TLSClientKey are the broker's client certificate for
	// a server that requires one; with the embedded server they default to
	// those "brokerctl init --tls" wrote (see TLSPath).
	TLSClientCert, TLSClientKey string
	// HTTPAddr serves /metrics, /healthz and /readyz; empty disables it.
	HTTPAddr string
	// Workers, ClockSkew, MaxEnvelope and Replicas are passed to the pipeline.
	Workers     int
	ClockSkew   time.Duration
	MaxEnvelope int
	Replicas    int
	// Limits bound every stream and bucket of the broker and the audit log;
	// zero fields take limits.Default(MaxEnvelope).
	Limits limits.Streams
	// AgencyRate and AgencyBurst limit how fast one agency may send (see
	// broker.Config); a zero AgencyRate means no limit.
	AgencyRate  float64
	AgencyBurst int
	// PolicyPatience is how long a message the policy cannot decide is held
	// undecided before it is rejected with policy_error; zero means
	// defaults.PolicyPatience.
	PolicyPatience time.Duration
	// NATSDebug passes the embedded server's debug output to the log at
	// debug level, and NATSTrace its protocol trace as well: every client
	// operation with its subject, never the message bytes (see
	// natsserver.Config.Trace). For finding faults, not for production.
	NATSDebug, NATSTrace bool
	// AuditorsFile lists the age recipients the audit log's personal fields
	// are sealed to, one per line; empty means DataDir/broker/auditors.txt.
	AuditorsFile string
	// CheckpointInterval is how often the audit log publishes a signed
	// checkpoint; zero means defaults.CheckpointInterval.
	CheckpointInterval time.Duration
	// ReloadInterval is how often the directory and policies are checked for
	// changes; zero means defaults.ReloadInterval.
	ReloadInterval time.Duration
	Logger         *slog.Logger
	// Now is the pipeline's clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with every unset field that has a default filled in.
// The pipeline's and the audit log's settings are left for them to fill.
func (c Config) withDefaults() Config {
	if c.DirectoryPath == "" && c.DataDir != "" {
		c.DirectoryPath = layout.Directory(c.DataDir)
	}
	if c.AuditorsFile == "" && c.DataDir != "" {
		c.AuditorsFile = filepath.Join(layout.BrokerKeys(c.DataDir), keys.AuditorsFile)
	}
	if c.NATSListen == "" {
		c.NATSListen = defaults.NATSListen
	}
	if c.ReloadInterval <= 0 {
		c.ReloadInterval = defaults.ReloadInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// validate reports the first required field that is missing. It changes
// nothing; run withDefaults first.
func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("service: DataDir is required")
	}
	return nil
}

// Service is a running broker.
type Service struct {
	cfg     Config
	Dir     *directory.Source
	Policy  *policy.Engine
	Audit   *audit.Log
	Metrics *metrics.Metrics

	nats   *natsserver.Server // nil with an external NATS
	nc     *nats.Conn
	js     jetstream.JetStream
	broker *broker.Broker
	http   *http.Server
	httpLn net.Listener
	// ncClosed is closed once the NATS connection is closed, drained or not.
	ncClosed chan struct{}
	// cancel stops the background work (directory and policy watchers, the
	// HTTP server's goroutine), and background waits for it.
	cancel     context.CancelFunc
	background sync.WaitGroup
}

// Start brings the broker up. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (_ *Service, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	s := &Service{cfg: cfg, Metrics: metrics.New(), ncClosed: make(chan struct{})}
	defer func() {
		if err != nil {
			s.stop(context.Background())
		}
	}()

	bdir := layout.BrokerKeys(cfg.DataDir)
	// Data directories from before the audit key get one on first start.
	if _, err := keys.EnsureAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile)); err != nil {
		return nil, fmt.Errorf("service: audit key: %w", err)
	}
	auditKey, _, err := keys.LoadAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		return nil, fmt.Errorf("service: audit key: %w", err)
	}
	// Records signed by any audit key the broker has had are its own.
	auditHistory, err := keys.AuditKeyHistory(bdir)
	if err != nil {
		return nil, fmt.Errorf("service: audit key history: %w", err)
	}
	auditors, err := keys.LoadAgeRecipients(cfg.AuditorsFile)
	if err != nil {
		return nil, fmt.Errorf("service: auditors: %w", err)
	}
	if s.Dir, err = directory.Open(cfg.DirectoryPath, log); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	// The newest broker key valid now signs; every usable one decrypts.
	bk, err := loadBrokerKeys(bdir, s.Dir.Current(), time.Now())
	if err != nil {
		return nil, err
	}
	if s.Policy, err = policy.Open(ctx, policy.Config{Dir: cfg.PolicyDir, Logger: log, Observe: cfg.PolicyObserve}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	s.reportPolicy(s.Policy.Healthy())

	maxEnv := cfg.MaxEnvelope
	bcfg := broker.Config{
		Directory: s.Dir, Policy: s.Policy,
		SigningKey: bk.signing, Identity: bk.identity, Identities: bk.others,
		Workers: cfg.Workers, MaxEnvelope: maxEnv, ClockSkew: cfg.ClockSkew, Replicas: cfg.Replicas,
		Limits: cfg.Limits, AgencyRate: cfg.AgencyRate, AgencyBurst: cfg.AgencyBurst,
		PolicyPatience: cfg.PolicyPatience, Metrics: s.Metrics, Logger: log, Now: cfg.Now,
	}
	url := cfg.NATSURL
	connURL := url
	if url == "" {
		host, port, err := splitHostPort(cfg.NATSListen)
		if err != nil {
			return nil, err
		}
		serverTLS, err := cfg.serverTLS()
		if err != nil {
			return nil, err
		}
		// JetStream holds messages and audit records with personal data:
		// the embedded server always encrypts its files.
		jsKey, err := natsserver.EnsureKey(filepath.Join(bdir, natsserver.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		s.nats, err = natsserver.Start(natsserver.Config{
			DataDir: cfg.DataDir, Host: host, Port: port,
			MaxPayload: bcfg.MaxMsgSize(), Directory: s.Dir.Current(), Logger: log, Metrics: s.Metrics, NoSync: cfg.NoSync,
			TLS: serverTLS, EncryptionKey: jsKey, Debug: cfg.NATSDebug, Trace: cfg.NATSTrace,
		})
		if err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		s.Dir.OnChange(func(d *directory.Directory) {
			if err := s.nats.Update(d); err != nil {
				log.Error("service: NATS users not updated", "err", err)
			}
		})
		url = s.nats.ClientURL()
		connURL = dialable(url)
	}
	tlsOpts, err := cfg.connTLS(s.nats != nil)
	if err != nil {
		return nil, err
	}
	// Brokers and NATS nodes start in any order: until StartTimeout the
	// broker waits for a node to answer and for its streams to be created.
	sctx, cancel := context.WithTimeout(ctx, defaults.StartTimeout)
	defer cancel()
	var js jetstream.JetStream
	var closeOnce sync.Once
	// Log in with the seed of the keys loaded above from the directory in force
	// (cfg.DirectoryPath), instead of loading every key generation again.
	var refused error // an answer other than silence: wrong key, bad TLS
	err = bus.Retry(sctx, 0, func(context.Context) (err error) {
		s.nc, js, err = connectWithSeed(bk.nkeyPath, connURL, append(tlsOpts, nats.Name("sekretessbroker"), nats.MaxReconnects(-1),
			nats.ClosedHandler(func(*nats.Conn) { closeOnce.Do(func() { close(s.ncClosed) }) }))...)
		if err != nil && !errors.Is(err, nats.ErrNoServers) {
			refused = err
			return nil
		}
		return err
	}, func(err error) { log.Warn("service: no NATS server answers yet; trying again", "url", url, "err", err) })
	if refused != nil {
		err = refused
	}
	if err != nil {
		return nil, err
	}
	bcfg.NATS = s.nc
	s.js = js
	if s.Audit, err = audit.Open(sctx, audit.Config{
		JetStream: js, Replicas: cfg.Replicas, Limits: cfg.Limits.Or(limits.Default(maxEnv)), Signer: auditKey, History: auditHistory, Auditors: auditors,
		CheckpointInterval: cfg.CheckpointInterval, Logger: log,
	}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	bcfg.Audit = s.Audit
	s.recordKeyChanges()
	if s.broker, err = broker.New(sctx, bcfg); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if cfg.HTTPAddr != "" {
		if err := s.serveHTTP(); err != nil {
			return nil, err
		}
	}
	if err := s.broker.Start(sctx); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}

	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.background.Add(2)
	go func() {
		defer s.background.Done()
		s.Dir.Watch(wctx, cfg.ReloadInterval)
	}()
	go func() {
		defer s.background.Done()
		s.Policy.Watch(wctx, cfg.ReloadInterval, s.reportPolicy)
	}()
	log.Info("sekretessbroker running", "nats", url, "http", s.HTTPAddr(), "data", cfg.DataDir,
		"agencies", len(s.Dir.Current().Agencies), "policy_revision", s.Policy.Revision())
	return s, nil
}

// ReloadPolicy recompiles the policies if they changed, probes them, and
// updates the health metric; while the policy cannot decide, messages are
// held undecided.
func (s *Service) ReloadPolicy(ctx context.Context) {
	changed, err := s.Policy.Reload(ctx)
	if !changed {
		err = s.Policy.Probe(ctx)
	}
	s.reportPolicy(err)
}

// reportPolicy sets the health metric from the result of a policy check: err
// is the health of the revision in force, nil when it compiles and decides
// the probe input.
func (s *Service) reportPolicy(err error) {
	if err != nil {
		s.Metrics.PolicyHealthy.Set(0)
	} else {
		s.Metrics.PolicyHealthy.Set(1)
	}
}

// Reload re-reads the directory and the policies now (SIGHUP).
func (s *Service) Reload(ctx context.Context) {
	if err := s.Dir.Reload(); err != nil {
		s.cfg.Logger.Error("directory reload failed, keeping the current one", "err", err)
	}
	s.ReloadPolicy(ctx)
}

// NATSURL returns the URL agencies connect to.
func (s *Service) NATSURL() string {
	if s.nats != nil {
		return s.nats.ClientURL()
	}
	return s.cfg.NATSURL
}

// HTTPAddr returns the address of the metrics and health endpoint, or "".
func (s *Service) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

func (s *Service) serveHTTP() error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /readyz", s.handleReadyz)
	if err := s.mountDashboard(mux); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("service: http: %w", err)
	}
	s.httpLn = ln
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("service: http", "err", err)
		}
	}()
	return nil
}

// Shutdown stops taking messages, finishes those in flight, and closes the
// audit log (publishing a last checkpoint), the NATS connection and the
// embedded server, in that order.
func (s *Service) Shutdown(ctx context.Context) error { return s.stop(ctx) }

func (s *Service) stop(ctx context.Context) error {
	var errs []error
	if s.cancel != nil {
		s.cancel()
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			// Out of time: cut the requests still running.
			errs = append(errs, err, s.http.Close())
		}
	}
	// The watchers return on cancel and the HTTP server's goroutine once the
	// server is closed.
	s.background.Wait()
	if s.broker != nil {
		errs = append(errs, s.broker.Shutdown(ctx))
	}
	if s.Audit != nil {
		errs = append(errs, s.Audit.Close())
	}
	if s.nc != nil {
		if err := s.nc.Drain(); err != nil {
			s.nc.Close()
		}
		// Drain closes the connection once what was published is flushed;
		// a ctx that ends first cuts it short.
		select {
		case <-s.ncClosed:
		case <-ctx.Done():
			select {
			case <-s.ncClosed:
			default:
				s.nc.Close()
				<-s.ncClosed
				errs = append(errs, fmt.Errorf("service: NATS connection closed before it drained: %w", ctx.Err()))
			}
		}
	}
	if s.nats != nil {
		s.nats.Shutdown()
	}
	return errors.Join(errs...)
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("service: NATS listen address %q: %w", addr, err)
	}
	var port int
	if _, err := fmt.Sscanf(p, "%d", &port); err != nil {
		return "", 0, fmt.Errorf("service: NATS listen port %q: %w", p, err)
	}
	if port == 0 {
		port = -1 // nats-server's "random port"
	}
	return host, port, nil
}

// ConnectAsBroker dials NATS at url with the broker's credentials from
// dataDir, as the daemon does and as tools that read the broker's own streams
// (audit verification, the demo, the load generator) must.
func ConnectAsBroker(dataDir, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	return connectWithSeed(brokerNKeyPath(dataDir), url, opts...)
}

// connectWithSeed dials NATS at url as the broker, with the nkey seed at
// seedPath.
func connectWithSeed(seedPath, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nkeyOpt, err := nats.NkeyOptionFromSeed(seedPath)
	if err != nil {
		return nil, nil, fmt.Errorf("service: broker nkey: %w", err)
	}
	opts = append([]nats.Option{nkeyOpt, nats.CustomInboxPrefix(bus.InboxPrefix("broker"))}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("service: connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("service: %w", err)
	}
	return nc, js, nil
}
