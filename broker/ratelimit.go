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

	mu      sync.Mutex // guards the fields below
	buckets map[string]*agencyBucket
	// admitted holds the inbound sequences admitted but not yet recorded in
	// the audit log: a message retried under back-pressure is not charged
	// again each time.
	admitted map[uint64]bool
}

// maxAdmitted bounds admitted: entries of messages that another broker
// finished are never settled here. Past it the set is cleared, and a few
// retried messages pay a second token.
const maxAdmitted = 1 << 16

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
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*agencyBucket{}, admitted: map[uint64]bool{}}
}

// admit takes a token from agency's bucket at t for inbound message seq,
// unless seq was admitted before and not settled. If there is no token, it
// returns how long until there is one, and whether this is the first refusal
// since the agency was last admitted.
func (r *rateLimiter) admit(agency string, seq uint64, t time.Time) (ok bool, retryAfter time.Duration, first bool) {
	if r == nil {
		return true, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.admitted[seq] {
		return true, 0, false
	}
	b := r.buckets[agency]
	if b == nil {
		b = &agencyBucket{Limiter: rate.NewLimiter(r.limit, r.burst)}
		r.buckets[agency] = b
	}
	res := b.ReserveN(t, 1)
	d := res.DelayFrom(t)
	if res.OK() && d == 0 {
		b.limited = false
		if len(r.admitted) >= maxAdmitted {
			clear(r.admitted)
		}
		r.admitted[seq] = true
		return true, 0, false
	}
	res.CancelAt(t)
	first = !b.limited
	b.limited = true
	return false, max(d.Round(time.Second), time.Second), first
}

// settle forgets seq once its outcome is in the audit log.
func (r *rateLimiter) settle(seq uint64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.admitted, seq)
	r.mu.Unlock()
}
