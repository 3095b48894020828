package policy

import (
	"context"
	"errors"
	"fmt"
)

// ErrContract marks a policy that compiles but does not answer the probe
// inputs with a decision of the contract's shape: its decision rule is
// missing or renamed, its values conflict, or it returns something else.
// Such a policy would fail every message, so the broker reports itself
// unhealthy and holds messages until it is fixed.
var ErrContract = errors.New("policy: no decision of the contract's shape for the probe input")

// probeInputs are the fixed inputs every revision must decide before the
// broker trusts it, and again on every check of the policy files: a report
// of concern from a school to social services, and a message of a kind no
// rule knows. Only the shape of the answer is checked (see parseDecision),
// never the outcome, so that a deployment's own rules are free to decide
// them either way. They carry no personal data.
var probeInputs = []struct {
	name  string
	input map[string]any
}{
	{"concern report", map[string]any{
		"message":    map[string]any{"id": "00000000000000000000000000000000", "kind": "concern_report", "created_at": "2025-09-15T10:00:00Z"},
		"decided_at": "2025-09-15T10:00:01Z",
		"sender":     map[string]any{"id": "probe-school", "kind": "school", "operator": "municipal", "authority": true, "name": "probe"},
		"recipient":  map[string]any{"id": "probe-social-services", "kind": "social_services", "authority": true, "name": "probe"},
		"claims": map[string]any{
			"category": "concern",
			"subject":  map[string]any{"pseudonym": "probe", "birth_date": "2012-01-01"},
			"purpose":  "probe",
		},
	}},
	{"unknown kind", map[string]any{
		"message":    map[string]any{"id": "00000000000000000000000000000001", "kind": "probe", "created_at": "2025-09-15T10:00:00Z"},
		"decided_at": "2025-09-15T10:00:01Z",
		"sender":     map[string]any{"id": "probe-police", "kind": "police", "authority": true, "name": "probe"},
		"recipient":  map[string]any{"id": "probe-school", "kind": "school", "operator": "municipal", "authority": true, "name": "probe"},
		"claims":     map[string]any{"category": "probe"},
	}},
}

// probe evaluates the probe inputs under c and reports the first that does
// not yield a decision of the contract's shape, wrapping ErrContract.
func (e *Engine) probe(ctx context.Context, c *compiled) error {
	for _, p := range probeInputs {
		if _, err := e.eval(ctx, c, p.input); err != nil {
			return fmt.Errorf("%w (%s): %v", ErrContract, p.name, err)
		}
	}
	return nil
}

// Probe evaluates the probe inputs under the revision in force and records
// the result, which Healthy reports from then on. The policy watch runs it
// on every check, so that a policy whose answer changes with time (or an
// engine that stopped answering) is noticed without a change of files.
// It returns the engine's health after the probe, as Healthy does.
func (e *Engine) Probe(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.cur.Load()
	if cur.err != nil {
		return cur.err // does not compile: nothing to probe
	}
	err := e.probe(ctx, cur)
	if ctx.Err() != nil {
		// Cut short by the caller (the broker is stopping): that says
		// nothing about the policy.
		return cur.health()
	}
	if sameError(err, cur.probeErr) {
		return cur.health()
	}
	next := *cur
	next.probeErr = err
	e.cur.Store(&next)
	e.logHealth(&next)
	return next.health()
}

// sameError reports whether a and b are both nil or say the same.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}
