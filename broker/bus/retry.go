package bus

import (
	"context"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

// Retry calls f until it succeeds or ctx is done, and returns f's last error
// if it never succeeded. Each call gets its own deadline of at most per (no
// deadline of its own when per is zero), so that a call whose stream or
// consumer leader died is made again, to the new leader, instead of waiting
// out ctx. Between calls it waits from defaults.RetryMin, doubling up to
// defaults.RetryMax. onErr, if not nil, is told of each failed call.
//
// f must be safe to repeat: a publish carries a message id the stream
// dedupes by, a creation is a create-or-update.
func Retry(ctx context.Context, per time.Duration, f func(context.Context) error, onErr func(error)) error {
	wait := defaults.RetryMin
	for {
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if per > 0 {
			cctx, cancel = context.WithTimeout(ctx, per)
		}
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if onErr != nil {
			onErr(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, defaults.RetryMax)
	}
}
