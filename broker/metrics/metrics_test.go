package metrics_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
)

// broker metrics and the only labels they may carry. Label values are fixed
// codes (an outcome, a policy rule id, an error code, an event kind) or an
// agency's id, which names an authority or a school, never a person. Anything
// else (a message id, a pseudonym, a claim) could identify a person or a case.
// agencyID matches a directory id (directory.ValidID) or "unknown".
var agencyID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

var labels = map[string]map[string]*regexp.Regexp{
	"sekretess_decisions_total": {
		"outcome": regexp.MustCompile(`^(delivered|rejected)$`),
		"rule":    regexp.MustCompile(`^(none|R-[A-Z0-9-]+)$`),
	},
	"sekretess_rejections_total":            {"code": regexp.MustCompile(`^[a-z_]{1,32}$`), "sender": agencyID},
	"sekretess_security_events_total":       {"kind": regexp.MustCompile(`^[a-z_]{1,32}$`), "agency": agencyID},
	"sekretess_redeliveries_total":          {},
	"sekretess_pipeline_seconds":            {},
	"sekretess_policy_eval_seconds":         {},
	"sekretess_audit_append_seconds":        {},
	"sekretess_audit_blocked":               {},
	"sekretess_audit_append_failures_total": {},
	"sekretess_in_flight":                   {},
	"sekretess_policy_healthy":              {},
	"sekretess_policy_held":                 {},
}

// TestNewRegistersEverything: each New has its own registry, so two brokers
// in one process do not collide, and every instrument is on it.
func TestNewRegistersEverything(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	if a.Registry == b.Registry {
		t.Fatal("two Metrics share a registry")
	}
	a.Decisions.WithLabelValues("delivered", "R-CONCERN").Inc()
	a.Rejections.WithLabelValues("policy", "rosengard-skola").Inc()
	a.SecurityEvents.WithLabelValues("permission_violation", "rosengard-skola").Inc()
	families, err := a.Registry.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	seen := map[string]bool{}
	goAndProcess := false
	for _, f := range families {
		name := f.GetName()
		if seen[name] {
			t.Errorf("metric %s gathered twice", name)
		}
		seen[name] = true
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			goAndProcess = true
			continue
		}
		if _, ok := labels[name]; !ok {
			t.Errorf("unexpected metric %s: add it to this test with its allowed labels", name)
		}
		if f.GetHelp() == "" {
			t.Errorf("metric %s has no help text", name)
		}
	}
	for name := range labels {
		if !seen[name] {
			t.Errorf("metric %s is not registered", name)
		}
	}
	if !goAndProcess {
		t.Error("the Go and process collectors are not registered")
	}
}

func TestCounters(t *testing.T) {
	m := metrics.New()
	m.Decisions.WithLabelValues("delivered", "R-CONCERN").Inc()
	m.Decisions.WithLabelValues("delivered", "R-CONCERN").Inc()
	m.Decisions.WithLabelValues("rejected", "none").Inc()
	m.Rejections.WithLabelValues("replay", "rosengard-skola").Inc()
	m.Redeliveries.Inc()
	m.AuditFailures.Add(3)
	m.AuditBlocked.Set(1)
	m.InFlight.Inc()
	m.InFlight.Inc()
	m.InFlight.Dec()
	m.PolicyHealthy.Set(1)
	m.PolicyHeld.Set(2)
	m.PipelineSeconds.Observe(0.01)
	m.PolicySeconds.Observe(0.001)
	m.AuditSeconds.Observe(0.002)

	for name, tc := range map[string]struct{ got, want float64 }{
		"delivered by R-CONCERN": {testutil.ToFloat64(m.Decisions.WithLabelValues("delivered", "R-CONCERN")), 2},
		"rejected":               {testutil.ToFloat64(m.Decisions.WithLabelValues("rejected", "none")), 1},
		"replay rejections":      {testutil.ToFloat64(m.Rejections.WithLabelValues("replay", "rosengard-skola")), 1},
		"policy rejections":      {testutil.ToFloat64(m.Rejections.WithLabelValues("policy", "rosengard-skola")), 0},
		"redeliveries":           {testutil.ToFloat64(m.Redeliveries), 1},
		"audit failures":         {testutil.ToFloat64(m.AuditFailures), 3},
		"audit blocked":          {testutil.ToFloat64(m.AuditBlocked), 1},
		"in flight":              {testutil.ToFloat64(m.InFlight), 1},
		"policy healthy":         {testutil.ToFloat64(m.PolicyHealthy), 1},
		"policy held":            {testutil.ToFloat64(m.PolicyHeld), 2},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", name, tc.got, tc.want)
		}
	}
	for name, n := range map[string]int{
		"sekretess_pipeline_seconds": 1, "sekretess_policy_eval_seconds": 1, "sekretess_audit_append_seconds": 1,
	} {
		if got, err := testutil.GatherAndCount(m.Registry, name); err != nil || got != n {
			t.Errorf("%s: %d series, %v", name, got, err)
		}
	}
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP sekretess_decisions_total Messages decided, by outcome and rule.
# TYPE sekretess_decisions_total counter
sekretess_decisions_total{outcome="delivered",rule="R-CONCERN"} 2
sekretess_decisions_total{outcome="rejected",rule="none"} 1
`), "sekretess_decisions_total"); err != nil {
		t.Error(err)
	}
}

// TestNoPersonalLabels: every label of every gathered series is one the
// broker defines, with a value from a fixed set of codes. The pipeline's own
// test checks the same on the metrics of real decisions.
func TestNoPersonalLabels(t *testing.T) {
	m := metrics.New()
	m.Decisions.WithLabelValues("rejected", "none").Inc()
	m.Decisions.WithLabelValues("delivered", "R-LUB-REQUEST").Inc()
	m.Rejections.WithLabelValues("unknown_sender", "unknown").Inc()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		allowed, ours := labels[f.GetName()]
		if !ours {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				n++
				re, ok := allowed[l.GetName()]
				if !ok {
					t.Errorf("%s has label %s, which is not one of the fixed ones", f.GetName(), l.GetName())
					continue
				}
				if !re.MatchString(l.GetValue()) {
					t.Errorf("%s{%s=%q} is not a fixed code", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if n != 6 {
		t.Fatalf("checked %d labels, want 6", n)
	}
}
