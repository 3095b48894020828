package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
)

// Parts of the broker that /readyz reports, in this order.
const (
	PartNATS      = "nats"
	PartStreams   = "streams"
	PartPolicy    = "policy"
	PartAudit     = "audit"
	PartDirectory = "directory"
)

// readyTimeout bounds the JetStream look-ups of one readiness check, so that
// a probe never hangs on a NATS server that does not answer.
const readyTimeout = 5 * time.Second

// PartState is the state of one part of the broker in a Readiness report.
type PartState struct {
	// Name is one of PartNATS, PartStreams, PartPolicy, PartAudit and
	// PartDirectory.
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	// Error says why the part is not ready, and what it means for messages.
	Error string `json:"error,omitempty"`
}

// Readiness is the body of /readyz: whether the broker can take, decide,
// record and deliver messages, and each part's state.
type Readiness struct {
	Ready bool        `json:"ready"`
	Parts []PartState `json:"parts"`
}

// Failing returns the names of the parts that are not ready.
func (r Readiness) Failing() []string {
	var names []string
	for _, p := range r.Parts {
		if !p.Ready {
			names = append(names, p.Name)
		}
	}
	return names
}

// Ready checks every part of the broker: the NATS connection, the broker's
// streams and its consumer, the policy (it compiles and decides the probe
// input), the audit log (it takes records) and the agency directory (the file
// in force loads, and the broker has a usable key in it).
func (s *Service) Ready(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	checks := []struct {
		name  string
		check func(context.Context) error
	}{
		{PartNATS, func(context.Context) error { return s.natsHealth() }},
		{PartStreams, s.streamsHealth},
		{PartPolicy, func(context.Context) error { return s.policyHealth() }},
		{PartAudit, func(context.Context) error { return s.auditHealth() }},
		{PartDirectory, func(context.Context) error { return s.directoryHealth() }},
	}
	r := Readiness{Ready: true}
	for _, c := range checks {
		p := PartState{Name: c.name, Ready: true}
		if err := c.check(ctx); err != nil {
			p.Ready, p.Error, r.Ready = false, err.Error(), false
		}
		r.Parts = append(r.Parts, p)
	}
	return r
}

// Health reports why the broker cannot decide messages correctly, or nil:
// the NATS connection is down, the policy cannot decide (messages are held),
// or the audit log does not take records (nothing is delivered). /healthz
// answers 503 with it.
func (s *Service) Health() error {
	if err := s.natsHealth(); err != nil {
		return err
	}
	if err := s.policyHealth(); err != nil {
		return err
	}
	return s.auditHealth()
}

func (s *Service) natsHealth() error {
	if s.nc == nil || !s.nc.IsConnected() {
		return errors.New("not connected to NATS: no message is taken or delivered")
	}
	return nil
}

func (s *Service) policyHealth() error {
	if s.Policy == nil {
		return errors.New("no policy loaded")
	}
	if err := s.Policy.Healthy(); err != nil {
		return fmt.Errorf("policy cannot decide messages; they are held undecided until it is fixed (revision %.12s): %w",
			s.Policy.Revision(), err)
	}
	return nil
}

func (s *Service) auditHealth() error {
	if s.Audit == nil {
		return errors.New("audit log not open")
	}
	if err := s.Audit.Err(); err != nil {
		return fmt.Errorf("audit log does not take records, nothing is delivered: %w", err)
	}
	return nil
}

// streamsHealth looks up the broker's streams and its inbound consumer.
func (s *Service) streamsHealth(ctx context.Context) error {
	if s.js == nil {
		return errors.New("no JetStream connection")
	}
	for _, name := range []string{bus.StreamIn, bus.StreamOut, bus.StreamReceipts, bus.StreamAudit} {
		if _, err := s.js.Stream(ctx, name); err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
	}
	if _, err := s.js.Consumer(ctx, bus.StreamIn, bus.BrokerConsumer); err != nil {
		return fmt.Errorf("consumer %s of %s: %w", bus.BrokerConsumer, bus.StreamIn, err)
	}
	return nil
}

// directoryHealth checks that the directory file loads, so that a change an
// operator made is in force and not silently ignored, and that the broker
// has a usable NATS key in the directory in force.
func (s *Service) directoryHealth() error {
	if s.Dir == nil {
		return errors.New("no agency directory loaded")
	}
	if _, err := directory.Load(s.cfg.DirectoryPath); err != nil {
		return fmt.Errorf("the directory file does not load, so the previous one stays in force: %w", err)
	}
	if len(s.Dir.Current().Broker.NKeysAt(time.Now())) == 0 {
		return errors.New("the directory in force has no valid broker nkey: run brokerctl broker rotate")
	}
	return nil
}

// handleHealthz answers 200 "ok", or 503 with why the broker cannot decide
// messages correctly.
func (s *Service) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	if err := s.Health(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// handleReadyz answers with the Readiness report as JSON: 200 when every
// part is ready, 503 otherwise.
func (s *Service) handleReadyz(w http.ResponseWriter, r *http.Request) {
	rep := s.Ready(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}
