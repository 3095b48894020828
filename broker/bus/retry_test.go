package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
