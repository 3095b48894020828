package broker

import (
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	if r := newRateLimiter(0, 10); r != nil {
		t.Fatal("a zero rate must mean no limiter")
	}
	var off *rateLimiter
	if ok, _, _ := off.admit("a", 1, time.Now()); !ok {
		t.Fatal("no limiter refused a message")
	}

	r := newRateLimiter(0.5, 2) // one message every two seconds, two at once
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 2 {
		if ok, _, _ := r.admit("a", uint64(i+1), t0); !ok {
			t.Fatalf("message %d of the burst refused", i+1)
		}
	}
	// Message 2, retried before its outcome was recorded, is not charged again.
	if ok, _, _ := r.admit("a", 2, t0); !ok {
		t.Fatal("a retried message was charged a second token")
	}
	r.settle(1)
	r.settle(2)
	ok, after, first := r.admit("a", 3, t0)
	if ok || !first || after != 2*time.Second {
		t.Fatalf("third message: admitted %v, retry after %v, first refusal %v; want refused, 2s, first", ok, after, first)
	}
	if ok, _, first := r.admit("a", 4, t0.Add(time.Second)); ok || first {
		t.Fatalf("fourth message a second later: admitted %v, first refusal %v; want refused, not the first", ok, first)
	}
	// A refusal takes no token: two seconds on, one is back.
	if ok, _, _ := r.admit("a", 5, t0.Add(2*time.Second)); !ok {
		t.Fatal("a message after the refill was refused")
	}
	// Another agency has its own bucket.
	if ok, _, _ := r.admit("b", 6, t0); !ok {
		t.Fatal("another agency was refused for the first one's flood")
	}
	// A message stored earlier than one already admitted (workers run in
	// parallel) is judged without crediting time backwards.
	if ok, _, first := r.admit("a", 7, t0.Add(time.Second)); ok || !first {
		t.Fatalf("an out-of-order message: admitted %v, first refusal %v; want refused, first after an admission", ok, first)
	}
}
