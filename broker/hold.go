package broker

import (
	"sync"
	"time"
)

// policyHold remembers since when each inbound message has been held
// undecided because the policy could not decide it, so that it is rejected
// with errcode.PolicyError only once the patience is over.
//
// The times live in memory: after a restart, or on another broker of the
// same stream, a held message's patience starts again. That errs towards
// holding longer, never towards a rejection sooner.
type policyHold struct {
	patience time.Duration
	set      func(held int) // reports how many messages are held; may be nil

	mu    sync.Mutex // guards since
	since map[uint64]time.Time
}

// maxHeld bounds the messages whose holding time is remembered. Past it the
// set is cleared, and the messages held so far start their patience again.
const maxHeld = 1 << 16

func newPolicyHold(patience time.Duration, set func(int)) *policyHold {
	return &policyHold{patience: patience, set: set, since: map[uint64]time.Time{}}
}

// hold reports whether inbound message seq, which the policy could not
// decide at now, is to be held further, how long it has been held, and
// whether this is the first time.
func (h *policyHold) hold(seq uint64, now time.Time) (keep bool, waited time.Duration, first bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.since[seq]
	if !ok {
		if len(h.since) >= maxHeld {
			clear(h.since)
		}
		t = now
		h.since[seq] = t
		h.report()
	}
	waited = now.Sub(t)
	return waited < h.patience, waited, !ok
}

// forget drops seq once its outcome is in the audit log.
func (h *policyHold) forget(seq uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.since[seq]; ok {
		delete(h.since, seq)
		h.report()
	}
}

func (h *policyHold) report() {
	if h.set != nil {
		h.set(len(h.since))
	}
}
