package broker

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter keeps one token bucket per sender agency. Tokens are taken at
// the time JetStream stored each message, not when the broker reads it, so
// that a backlog held up by a broker outage is judged by how fast the agency
// sent it, and messages of an agency flooding the inbound stream are refused
// at the cost of an audit record and a receipt each, without a signature
// check or a policy evaluation, while other agencies' messages are decided as
// usual.
//
// Each broker keeps its own buckets: with several brokers on one stream an
// agency may send up to their number times the rate.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex // guards buckets
	buckets map[string]*agencyBucket
}

type agencyBucket struct {
	*rate.Limiter
	// limited is true while the agency's messages are being refused, so that
	// a flood is logged once, not per message.
	limited bool
}

// newRateLimiter returns a limiter of perSecond messages with bursts of
// burst, or nil (no limit) if perSecond is not positive.
func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*agencyBucket{}}
}

// admit takes a token from agency's bucket at t. If there is none, it returns
// how long until there is one, and whether this is the first refusal since
// the agency was last admitted.
func (r *rateLimiter) admit(agency string, t time.Time) (ok bool, retryAfter time.Duration, first bool) {
	if r == nil {
		return true, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buckets[agency]
	if b == nil {
		b = &agencyBucket{Limiter: rate.NewLimiter(r.limit, r.burst)}
		r.buckets[agency] = b
	}
	res := b.ReserveN(t, 1)
	d := res.DelayFrom(t)
	if res.OK() && d == 0 {
		b.limited = false
		return true, 0, false
	}
	res.CancelAt(t)
	first = !b.limited
	b.limited = true
	return false, max(d.Round(time.Second), time.Second), first
}
