package bus

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

// Retry calls f until it succeeds or ctx is done, and returns f's last error
// if it never succeeded. Each call gets its own deadline of at most per (no
// deadline of its own when per is zero), so that a call whose stream or
// consumer leader died is made again, to the new leader, instead of waiting
// out ctx. Between calls it waits about defaults.RetryMin, doubling up to
// about defaults.RetryMax, at random within half of that either way. onErr, if not nil, is told of each failed call.
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
		cctxErr := cctx.Err()
		cancel()
		if err == nil {
			return nil
		}
		if onErr != nil {
			onErr(err)
		}
		// Jittered, so that brokers that failed together do not try again
		// together. A call that timed out waits up to a quarter of its
		// deadline more: two brokers creating the same stream through the
		// same node at the same moment may both get no answer, and must
		// not meet again on the next one.
		d := wait/2 + rand.N(wait)
		if per > 0 && errors.Is(cctxErr, context.DeadlineExceeded) && ctx.Err() == nil {
			d += rand.N(per / 4)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, defaults.RetryMax)
	}
}

// NoAnswer reports whether err means that JetStream did not answer (the
// call timed out, nobody listened, the connection is reconnecting), as when
// a stream's leader died and the next one is being elected; such a call is
// worth making again. Any other error is an answer, such as a full stream
// refusing a message.
func NoAnswer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, jetstream.ErrAsyncPublishTimeout)
}
