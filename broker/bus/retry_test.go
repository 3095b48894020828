package bus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// TestRetry: a call that fails is made again, each time with a deadline of
// its own, until it succeeds; one that never succeeds returns its last error
// once the caller's context ends.
func TestRetry(t *testing.T) {
	calls, told := 0, 0
	err := bus.Retry(context.Background(), time.Minute, func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("a call without a deadline of its own")
		}
		if calls < 3 {
			return errors.New("no answer")
		}
		return nil
	}, func(error) { told++ })
	if err != nil || calls != 3 || told != 2 {
		t.Fatalf("Retry = %v after %d calls, %d errors told; want success on the third", err, calls, told)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	never := errors.New("stream unavailable")
	calls = 0
	err = bus.Retry(ctx, 0, func(context.Context) error { calls++; return never }, nil)
	if !errors.Is(err, never) || calls < 2 {
		t.Fatalf("Retry = %v after %d calls, want the last error after several", err, calls)
	}
}

// TestNoAnswer: silence is worth another call, a refusal is not.
func TestNoAnswer(t *testing.T) {
	for _, err := range []error{context.DeadlineExceeded, nats.ErrTimeout, nats.ErrNoResponders, jetstream.ErrNoStreamResponse,
		fmt.Errorf("audit: append: %w", jetstream.ErrAsyncPublishTimeout)} {
		if !bus.NoAnswer(err) {
			t.Errorf("NoAnswer(%v) = false", err)
		}
	}
	for _, err := range []error{errors.New("nats: maximum messages exceeded"), context.Canceled, jetstream.ErrStreamNotFound} {
		if bus.NoAnswer(err) {
			t.Errorf("NoAnswer(%v) = true", err)
		}
	}
}
