// Command sekretessbroker runs the broker: by default with an embedded NATS
// server and JetStream in the data directory, or against an existing NATS
// deployment with --nats-url.
//
//	sekretessbroker --data ./data --policies ./policies
//
// With TLS, from the files "brokerctl init --tls" writes:
//
//	sekretessbroker --data ./data --tls-cert ./data/broker/tls/server.crt \
//		--tls-key ./data/broker/tls/server.key --tls-client-ca ./data/broker/tls/ca.crt
//
// The embedded server always encrypts JetStream's files with the key in
// <data>/broker/jetstream.key, created on first start.
//
// The garbage collector runs with GOGC=400 and a soft memory limit of 1 GiB
// (defaults.GCPercent and defaults.MemoryLimit), unless GOGC or GOMEMLIMIT
// are set.
//
// SIGHUP reloads the agency directory and the policies at once (both are also
// polled); SIGTERM or SIGINT finish the messages in flight and stop cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sekretessbroker:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg service.Config
	fs := flag.NewFlagSet("sekretessbroker", flag.ContinueOnError)
	fs.StringVar(&cfg.DataDir, "data", defaults.DataDir, "data directory: broker keys, directory.yaml, JetStream files (the audit log among them)")
	fs.StringVar(&cfg.DirectoryPath, "directory", "", "agency directory file (default <data>/directory.yaml)")
	fs.StringVar(&cfg.PolicyDir, "policies", defaults.PolicyDir, "directory of Rego policies")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "connect to this NATS deployment instead of embedding a server")
	fs.StringVar(&cfg.NATSListen, "listen", defaults.NATSListen, "embedded NATS server address")
	fs.BoolVar(&cfg.NoSync, "no-fsync", false, "let the embedded server acknowledge writes before they reach the disk: faster, but a power loss can lose acknowledged messages and audit records")
	fs.StringVar(&cfg.HTTPAddr, "http", defaults.HTTPAddr, "address for /metrics, /healthz and /readyz (empty: off)")
	fs.IntVar(&cfg.Workers, "workers", 0, fmt.Sprintf("messages processed at once (0: %d per CPU, at most %d)", defaults.WorkersPerCPU, defaults.MaxWorkers))
	fs.DurationVar(&cfg.ClockSkew, "clock-skew", defaults.ClockSkew, "accepted difference between a message's time and when the broker's inbound stream accepted it")
	fs.IntVar(&cfg.Replicas, "replicas", defaults.Replicas, "JetStream replicas of the broker's streams (3 on a cluster)")
	fs.StringVar(&cfg.AuditorsFile, "auditor", "", "age recipients (one a line) the audit log's personal fields are sealed to (default <data>/broker/auditors.txt)")
	fs.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", defaults.CheckpointInterval, "how often the audit log publishes a signed checkpoint")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "embedded NATS server's TLS certificate; with it every client must use TLS (brokerctl init --tls writes <data>/broker/tls/server.crt)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "key of --tls-cert")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", "", "CA whose client certificates the embedded server requires (mutual TLS), on top of the nkeys")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "CA the broker trusts for the NATS server's certificate (with --nats-url over TLS; embedded: the server's own certificate)")
	fs.StringVar(&cfg.TLSClientCert, "tls-client-cert", "", "the broker's client certificate, for a NATS server requiring mutual TLS (embedded: <data>/broker/tls/broker.crt)")
	fs.StringVar(&cfg.TLSClientKey, "tls-client-key", "", "key of --tls-client-cert")
	def := limits.Default(0)
	var work limits.Stream
	fs.Int64Var(&work.MaxBytes, "stream-max-bytes", 0, "storage limit, in bytes, of each of the inbound, outbound and receipt streams; when full they refuse new messages (0: 512 MiB, 1 GiB and 256 MiB; -1: none)")
	fs.Int64Var(&work.MaxMsgs, "stream-max-msgs", 0, fmt.Sprintf("messages each of the inbound, outbound and receipt streams may hold (0: %d; -1: none)", def.In.MaxMsgs))
	fs.Int64Var(&cfg.Limits.In.MaxMsgsPerAgency, "inbound-max-per-agency", def.In.MaxMsgsPerAgency, "messages one agency may have waiting for a decision; beyond it its publishes fail and other agencies' still go through (-1: none)")
	fs.Int64Var(&cfg.Limits.Audit.MaxBytes, "audit-max-bytes", def.Audit.MaxBytes, "storage limit, in bytes, of the audit log; when full it refuses records and the broker holds every message back until the limit is raised (-1: none; JetStream reserves it on disk)")
	fs.Int64Var(&cfg.Limits.Audit.MaxMsgs, "audit-max-msgs", def.Audit.MaxMsgs, "records the audit log may hold, as --audit-max-bytes (-1: none)")
	fs.Float64Var(&cfg.AgencyRate, "agency-rate", limits.DefaultAgencyRate, "messages per second one agency may send, sustained; beyond it (and its burst) its messages are refused with code rate_limited and must be sent again later (0: no limit)")
	fs.IntVar(&cfg.AgencyBurst, "agency-burst", limits.DefaultAgencyBurst, "messages one agency may send at once above --agency-rate")
	fs.DurationVar(&cfg.PolicyPatience, "policy-patience", defaults.PolicyPatience, "how long a message waits, undecided, for a policy that can decide it (while /healthz reports the policy broken) before it is rejected with policy_error")
	fs.BoolVar(&cfg.NATSDebug, "nats-debug", false, "log the embedded NATS server's debug output (and the broker's) at debug level")
	fs.BoolVar(&cfg.NATSTrace, "nats-trace", false, "also log the embedded NATS server's protocol trace: every client operation with its subject, never message bytes; for finding faults, not for production")
	doInit := fs.Bool("init", false, "create the broker's keys and an empty directory in --data if missing")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	defaults.SetGC()
	for _, l := range []*limits.Stream{&cfg.Limits.In, &cfg.Limits.Out, &cfg.Limits.Receipts} {
		l.MaxBytes, l.MaxMsgs = work.MaxBytes, work.MaxMsgs
	}
	level := slog.LevelInfo
	if cfg.NATSDebug || cfg.NATSTrace {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = logger
	if *doInit {
		if _, err := provision.Init(cfg.DataDir); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s, err := service.Start(ctx, cfg)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	for {
		select {
		case <-hup:
			logger.Info("SIGHUP: reloading directory and policies")
			s.Reload(ctx)
			continue
		case <-ctx.Done():
		}
		break
	}
	logger.Info("shutting down: finishing messages in flight")
	sctx, cancel := context.WithTimeout(context.Background(), defaults.ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
