package audit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// TestHealthIgnoresLateTimeout: an append that began before a successful
// one and failed after it (its deadline passed while the other was stored)
// says nothing about the stream now. The log stays healthy; reporting the
// last append to finish made /healthz answer 503 on a broker that works.
func TestHealthIgnoresLateTimeout(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	var clock atomic.Int64 // the log's clock, which orders the appends
	t0 := time.Now()
	clock.Store(t0.UnixNano())
	l, err := Open(ctxT(t), Config{JetStream: js, Signer: newKeyPair(t).signer, CheckpointInterval: time.Hour,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	// The append that will time out begins first, at t0; the one that
	// succeeds begins a second later and finishes first.
	clock.Store(t0.Add(time.Second).UnixNano())
	if _, err := l.Append(ctxT(t), rec(1, t0), nil); err != nil {
		t.Fatal(err)
	}
	clock.Store(t0.UnixNano())
	late, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	if _, err := l.Append(late, rec(2, t0), nil); err == nil {
		t.Fatal("an append past its deadline succeeded")
	}
	clock.Store(t0.Add(2 * time.Second).UnixNano())
	if err := l.Err(); err != nil {
		t.Fatalf("unhealthy after a late timeout, though a later append was stored: %v", err)
	}

	// An append that begins after the last success and fails does count.
	clock.Store(t0.Add(3 * time.Second).UnixNano())
	if _, err := l.Append(late, rec(3, t0), nil); err == nil {
		t.Fatal("an append past its deadline succeeded")
	}
	if l.Err() == nil {
		t.Fatal("healthy after the latest append failed")
	}
}

// TestHealthFollowsTheStream: a log whose stream refuses records says so at
// once, and an idle one whose stream takes records again is healthy again
// within seconds, by its own checks of the stream, without an append.
func TestHealthFollowsTheStream(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	l, err := Open(ctxT(t), Config{JetStream: js, Signer: newKeyPair(t).signer, CheckpointInterval: time.Hour,
		HealthInterval: 100 * time.Millisecond, HealthWindow: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	appendN(t, l, 1, 2, time.Now())
	if err := l.Err(); err != nil {
		t.Fatalf("unhealthy after appends that succeeded: %v", err)
	}
	setMaxMsgs := func(n int64) {
		s, err := js.Stream(ctxT(t), bus.StreamAudit)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
			t.Fatal(err)
		}
	}
	setMaxMsgs(2)
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := l.Append(short, rec(3, time.Now()), nil); err == nil {
		t.Fatal("the full stream took a record")
	}
	if l.Err() == nil {
		t.Fatal("healthy right after the stream refused a record")
	}
	// Idle and full: the checks keep saying so, past the window.
	idle := time.NewTimer(3 * time.Second)
	<-idle.C
	if l.Err() == nil {
		t.Fatal("healthy while the stream is full")
	}
	setMaxMsgs(-1)
	ctx, cancelWait := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelWait()
	if poll.Until(ctx, func() bool { return l.Err() == nil }) != nil {
		t.Fatalf("still unhealthy, idle, after the stream takes records again: %v", l.Err())
	}
}
