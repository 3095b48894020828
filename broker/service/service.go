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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sekretessbroker/sekretessbroker/broker"
	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
)

// Layout of a data directory.
const (
	DirectoryFile = "directory.yaml"
	BrokerDir     = "broker"
	AgenciesDir   = "agencies"
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
	// NATSURL connects to an existing NATS deployment; empty embeds a server.
	NATSURL string
	// NATSListen is the embedded server's address, host:port; port 0 picks a
	// free one.
	NATSListen string
	// NoSync lets the embedded server acknowledge writes before they reach
	// the disk (see natsserver.Config.NoSync).
	NoSync bool
	// HTTPAddr serves /metrics and /healthz; empty disables it.
	HTTPAddr string
	// Workers, ClockSkew, MaxEnvelope and Replicas are passed to the pipeline.
	Workers     int
	ClockSkew   time.Duration
	MaxEnvelope int
	Replicas    int
	// AuditorsFile lists the age recipients the audit log's personal fields
	// are sealed to, one per line; empty means DataDir/broker/auditors.txt.
	AuditorsFile string
	// CheckpointInterval is how often the audit log publishes a signed
	// checkpoint; zero means audit.DefaultCheckpointInterval.
	CheckpointInterval time.Duration
	// ReloadInterval is how often the directory and policies are checked for
	// changes; zero means two seconds.
	ReloadInterval time.Duration
	Logger         *slog.Logger
	// Now is the pipeline's clock; nil means time.Now.
	Now func() time.Time
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
	broker *broker.Broker
	http   *http.Server
	httpLn net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// Start brings the broker up. On error everything started so far is stopped.
func Start(ctx context.Context, cfg Config) (_ *Service, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("service: DataDir is required")
	}
	if cfg.DirectoryPath == "" {
		cfg.DirectoryPath = filepath.Join(cfg.DataDir, DirectoryFile)
	}
	if cfg.ReloadInterval <= 0 {
		cfg.ReloadInterval = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger
	s := &Service{cfg: cfg, Metrics: metrics.New(), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.stop(context.Background())
		}
	}()

	bdir := filepath.Join(cfg.DataDir, BrokerDir)
	// Data directories from before the audit key get one on first start.
	if _, err := keys.EnsureAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile)); err != nil {
		return nil, fmt.Errorf("service: audit key: %w", err)
	}
	auditKey, _, err := keys.LoadAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		return nil, fmt.Errorf("service: audit key: %w", err)
	}
	if cfg.AuditorsFile == "" {
		cfg.AuditorsFile = filepath.Join(bdir, keys.AuditorsFile)
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
	if s.Policy, err = policy.Open(ctx, policy.Config{Dir: cfg.PolicyDir, Logger: log}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	s.Metrics.PolicyHealthy.Set(1)

	maxEnv := cfg.MaxEnvelope
	bcfg := broker.Config{
		Directory: s.Dir, Policy: s.Policy,
		SigningKey: bk.signing, Identity: bk.identity, Identities: bk.others,
		Workers: cfg.Workers, MaxEnvelope: maxEnv, ClockSkew: cfg.ClockSkew, Replicas: cfg.Replicas,
		Metrics: s.Metrics, Logger: log, Now: cfg.Now,
	}
	url := cfg.NATSURL
	if url == "" {
		host, port, err := splitHostPort(cfg.NATSListen)
		if err != nil {
			return nil, err
		}
		s.nats, err = natsserver.Start(natsserver.Config{
			DataDir: cfg.DataDir, Host: host, Port: port,
			MaxPayload: bcfg.MaxMsgSize(), Directory: s.Dir.Current(), Logger: log, NoSync: cfg.NoSync,
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
	}
	var js jetstream.JetStream
	s.nc, js, err = ConnectAsBroker(cfg.DataDir, url, nats.Name("sekretessbroker"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, err
	}
	bcfg.NATS = s.nc
	if s.Audit, err = audit.Open(ctx, audit.Config{
		JetStream: js, Replicas: cfg.Replicas, Signer: auditKey, Auditors: auditors,
		CheckpointInterval: cfg.CheckpointInterval, Logger: log,
	}); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	bcfg.Audit = s.Audit
	s.recordKeyChanges()
	if s.broker, err = broker.New(ctx, bcfg); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if cfg.HTTPAddr != "" {
		if err := s.serveHTTP(); err != nil {
			return nil, err
		}
	}
	if err := s.broker.Start(ctx); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}

	wctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.done)
		go s.Dir.Watch(wctx, cfg.ReloadInterval)
		t := time.NewTicker(cfg.ReloadInterval)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				s.ReloadPolicy(wctx)
			}
		}
	}()
	log.Info("sekretessbroker running", "nats", url, "http", s.HTTPAddr(), "data", cfg.DataDir,
		"agencies", len(s.Dir.Current().Agencies), "policy_revision", s.Policy.Revision())
	return s, nil
}

// ReloadPolicy recompiles the policies if they changed and updates the
// health metric; a reload that fails leaves the broker denying everything.
func (s *Service) ReloadPolicy(ctx context.Context) {
	_, err := s.Policy.Reload(ctx)
	if err != nil {
		s.Metrics.PolicyHealthy.Set(0)
	} else if s.Policy.Healthy() == nil {
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
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("service: http: %w", err)
	}
	s.httpLn = ln
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("service: http", "err", err)
		}
	}()
	return nil
}

// Health reports why the broker cannot decide messages correctly, or nil.
func (s *Service) Health() error {
	if s.nc == nil || !s.nc.IsConnected() {
		return errors.New("not connected to NATS")
	}
	if err := s.Policy.Healthy(); err != nil {
		return fmt.Errorf("policy does not compile, every message is denied: %w", err)
	}
	if s.Audit != nil {
		if err := s.Audit.Err(); err != nil {
			return fmt.Errorf("audit log does not take records, nothing is delivered: %w", err)
		}
	}
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
		<-s.done
	}
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	}
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
		for s.nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if s.nats != nil {
		s.nats.Shutdown()
	}
	return errors.Join(errs...)
}

func splitHostPort(addr string) (string, int, error) {
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
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
	nkeyOpt, err := nats.NkeyOptionFromSeed(brokerNKeyPath(dataDir))
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
