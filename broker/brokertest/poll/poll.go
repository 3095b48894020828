// Package poll waits in tests for conditions that no event announces, such
// as a server's internal state or a file removed in the background. It
// imports nothing of the broker's, so that every package's tests, internal
// ones included, can use it.
package poll

import (
	"context"
	"time"
)

// Interval paces the polling. It assumes nothing about how long a wait lasts:
// the caller's context bounds that.
const Interval = 50 * time.Millisecond

// Until calls cond every Interval until it returns true, and returns ctx's
// error if ctx ends first.
func Until(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
