// Package metrics defines the broker's Prometheus metrics on a registry the
// caller owns, so that tests and several brokers in one process never share
// global state.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the broker's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	// Decisions counts decided messages by outcome (delivered, rejected) and
	// rule (the allowing rule, or "none").
	Decisions *prometheus.CounterVec
	// Rejections counts rejected messages by code ("policy" for a policy
	// denial, otherwise the envelope or pipeline error code) and sender (the
	// agency id of the publisher: never a pseudonym or a claim).
	Rejections *prometheus.CounterVec
	// SecurityEvents counts what NATS refused an agency, by kind
	// (SecurityPermissionViolation, SecurityAuthFailure) and agency id
	// ("unknown" for a key that is not in the directory).
	SecurityEvents *prometheus.CounterVec
	// Redeliveries counts inbound messages seen again after a crash or a lost
	// ack, answered from the audit log instead of being decided twice.
	Redeliveries prometheus.Counter
	// Stage latencies.
	PipelineSeconds prometheus.Histogram
	PolicySeconds   prometheus.Histogram
	AuditSeconds    prometheus.Histogram
	// AuditBlocked is 1 while the audit stream refuses records: the broker
	// then neither delivers nor acknowledges, and retries until it takes them.
	AuditBlocked prometheus.Gauge
	// AuditFailures counts audit appends that failed (and were retried).
	AuditFailures prometheus.Counter
	// InFlight is the number of messages being processed.
	InFlight prometheus.Gauge
	// PolicyHealthy is 1 while the policy in force compiles and answers the
	// probe inputs with a decision of the contract's shape, 0 while it does
	// not and messages are held undecided (see package policy).
	PolicyHealthy prometheus.Gauge
	// PolicyHeld is the number of inbound messages held undecided because
	// the policy could not decide them; each is rejected with policy_error
	// once the daemon's --policy-patience is over.
	PolicyHeld prometheus.Gauge
}

// Kinds of SecurityEvents.
const (
	// SecurityPermissionViolation: a publish or subscription to a subject
	// outside the agency's permissions.
	SecurityPermissionViolation = "permission_violation"
	// SecurityAuthFailure: a connection that failed to authenticate.
	SecurityAuthFailure = "auth_failure"
)

// New creates the metrics and registers them, with the Go and process
// collectors, on a new registry.
func New() *Metrics {
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 16) // 50µs … 1.6s
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sekretess_decisions_total", Help: "Messages decided, by outcome and rule.",
		}, []string{"outcome", "rule"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sekretess_rejections_total", Help: "Rejected messages, by code (policy or the error code) and sender agency.",
		}, []string{"code", "sender"}),
		SecurityEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sekretess_security_events_total", Help: "Permission violations and authentication failures on NATS, by kind and agency.",
		}, []string{"kind", "agency"}),
		Redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sekretess_redeliveries_total", Help: "Inbound messages answered from the audit log after a redelivery.",
		}),
		PipelineSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sekretess_pipeline_seconds", Help: "Time from receiving an inbound message to its ack.", Buckets: buckets,
		}),
		PolicySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sekretess_policy_eval_seconds", Help: "Time of one policy evaluation.", Buckets: buckets,
		}),
		AuditSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sekretess_audit_append_seconds", Help: "Time until an audit record is stored (PubAck).", Buckets: buckets,
		}),
		AuditBlocked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sekretess_audit_blocked", Help: "1 while the audit stream refuses records and nothing is delivered or acknowledged.",
		}),
		AuditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sekretess_audit_append_failures_total", Help: "Audit appends that failed; their messages are retried, never lost.",
		}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sekretess_in_flight", Help: "Messages being processed.",
		}),
		PolicyHealthy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sekretess_policy_healthy", Help: "1 if the policy in force compiles and decides the probe input, 0 if messages are held undecided.",
		}),
		PolicyHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sekretess_policy_held", Help: "Inbound messages held undecided because the policy could not decide them.",
		}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Decisions, m.Rejections, m.SecurityEvents, m.Redeliveries,
		m.PipelineSeconds, m.PolicySeconds, m.AuditSeconds, m.AuditBlocked, m.AuditFailures, m.InFlight, m.PolicyHealthy, m.PolicyHeld,
	)
	return m
}
