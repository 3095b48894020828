package broker

import (
	"testing"
	"time"
)

// TestPolicyHold: a message is held until its patience is over, counted
// while it is, and forgotten once decided; the patience runs from the first
// hold, not from each retry.
func TestPolicyHold(t *testing.T) {
	var held int
	h := newPolicyHold(time.Minute, func(n int) { held = n })
	t0 := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	if keep, waited, first := h.hold(7, t0); !keep || waited != 0 || !first || held != 1 {
		t.Fatalf("first hold = %v %v %v, held %d", keep, waited, first, held)
	}
	if keep, waited, first := h.hold(7, t0.Add(59*time.Second)); !keep || waited != 59*time.Second || first || held != 1 {
		t.Fatalf("retry within the patience = %v %v %v, held %d", keep, waited, first, held)
	}
	if keep, _, _ := h.hold(8, t0.Add(59*time.Second)); !keep || held != 2 {
		t.Fatalf("another message's patience starts at its own first hold; held %d", held)
	}
	if keep, waited, _ := h.hold(7, t0.Add(time.Minute)); keep || waited != time.Minute {
		t.Fatalf("hold after the patience = %v %v, want to reject", keep, waited)
	}
	h.forget(7)
	h.forget(7)
	if held != 1 {
		t.Fatalf("held after forgetting one = %d", held)
	}
}
