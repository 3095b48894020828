package service

import (
	"math"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

// TestOpsQuantile: the page's percentiles are estimated from the buckets as
// Prometheus' histogram_quantile estimates them.
func TestOpsQuantile(t *testing.T) {
	h := histogram{bounds: []float64{1, 2, 4}, counts: []uint64{1, 3, 4}, count: 4}
	for q, want := range map[float64]float64{0.25: 1, 0.5: 1.5, 0.99: 3.92} {
		if got, ok := h.quantile(q); !ok || math.Abs(got-want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, %v; want %v", q, got, ok, want)
		}
	}
	// An observation above the highest bound: the highest bound.
	h.count = 5
	if got, ok := h.quantile(0.99); !ok || got != 4 {
		t.Errorf("quantile(0.99) in the +Inf bucket = %v, %v; want 4", got, ok)
	}
	if _, ok := (histogram{bounds: []float64{1}, counts: []uint64{0}}).quantile(0.5); ok {
		t.Error("a quantile of no observations")
	}
	// The window's observations are the newer histogram minus the older.
	older := histogram{bounds: []float64{1, 2, 4}, counts: []uint64{1, 1, 1}, count: 1}
	if w := h.minus(older); w.count != 4 || w.counts[0] != 0 || w.counts[2] != 3 {
		t.Errorf("minus = %+v", w)
	}
}

// TestOpsChart: the chart draws the rate between consecutive samples within
// the window, scaled to a round maximum.
func TestOpsChart(t *testing.T) {
	now := time.Unix(1_790_000_000, 0)
	samples := []sample{
		{at: now.Add(-2 * defaults.OpsWindow)}, // outside the window
		{at: now.Add(-20 * time.Second)},
		{at: now.Add(-10 * time.Second), allowed: 30, rejected: 10},
		{at: now, allowed: 30, rejected: 10},
	}
	c := chart(samples, now)
	// The pair that ends inside the window counts: its rate is the average
	// over the time nobody looked.
	if c.Points != 3 || c.Max != 5 {
		t.Fatalf("chart = %+v, want 3 points scaled to 5/s", c)
	}
	// 0/s, 3/s allowed, then 0/s at the right edge.
	if c.Allowed != "933.3,160.0 966.7,64.0 1000.0,160.0" || c.Rejected != "933.3,160.0 966.7,128.0 1000.0,160.0" {
		t.Errorf("lines %q and %q", c.Allowed, c.Rejected)
	}
	for x, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.5: 2, 3: 5, 7: 10, 10: 10, 11: 20} {
		if got := niceCeil(x); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", x, got, want)
		}
	}
	if i := recentFrom(samples, now, 15*time.Second); i != 2 {
		t.Errorf("recentFrom = %d, want 2", i)
	}
	if i := windowStart(samples, now); i != 0 {
		t.Errorf("windowStart = %d, want 0", i)
	}
}
