package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
)

// brokerParty names the broker in key event records.
const brokerParty = "broker"

// recordKeyChanges appends an audit record for every key the broker sees
// added, revoked or removed when it reloads the directory, so that the log
// says from when each key was accepted and refused. Changes made while no
// broker runs are not seen; the directory file keeps their dates.
func (s *Service) recordKeyChanges() {
	last := s.Dir.Current()
	// Reloads are serialised by the directory source, so last needs no lock.
	s.Dir.OnChange(func(d *directory.Directory) {
		prev := last
		last = d
		for _, rec := range keyEvents(prev, d, time.Now().UTC()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := s.Audit.Append(ctx, rec, nil)
			cancel()
			if err != nil {
				s.cfg.Logger.Error("service: key change not recorded in the audit log", "party", rec.Sender, "key", rec.KeyID, "kind", rec.Kind, "err", err)
			}
		}
	})
}

// keyEvents returns the records of the key changes from prev to next. The
// decision id is derived from the change, so brokers of one cluster that all
// see it write one record (the audit stream drops the duplicates).
func keyEvents(prev, next *directory.Directory, now time.Time) []*decision.Record {
	var out []*decision.Record
	event := func(party, kind string, k *directory.Key, what string) {
		at := ""
		if k.RevokedAt != nil {
			at = k.RevokedAt.UTC().Format(time.RFC3339Nano)
		}
		sum := sha256.Sum256([]byte(kind + "\x00" + party + "\x00" + k.ID + "\x00" + at))
		out = append(out, &decision.Record{
			DecisionID: hex.EncodeToString(sum[:16]),
			DecidedAt:  now,
			Sender:     party,
			Kind:       kind,
			KeyID:      k.ID,
			Outcome:    decision.KeyEvent,
			Reasons:    []string{what},
		})
	}
	diff := func(party string, old, cur []directory.Key) {
		was := make(map[string]*directory.Key, len(old))
		for i := range old {
			was[old[i].ID] = &old[i]
		}
		for i := range cur {
			k := &cur[i]
			o, existed := was[k.ID]
			delete(was, k.ID)
			if !existed {
				from := "always"
				if !k.NotBefore.IsZero() {
					from = k.NotBefore.UTC().Format(time.RFC3339)
				}
				event(party, decision.KindKeyAdded, k, fmt.Sprintf("key %s of %s added: signing key %s, age recipient %s, valid from %s",
					k.ID, party, k.SigningKey, k.AgeRecipient, from))
			}
			if k.RevokedAt != nil && (!existed || o.RevokedAt == nil) {
				event(party, decision.KindKeyRevoked, k, fmt.Sprintf("key %s of %s revoked at %s: %s",
					k.ID, party, k.RevokedAt.UTC().Format(time.RFC3339), k.RevokedReason))
			}
		}
		for i := range old {
			if k, gone := was[old[i].ID]; gone {
				event(party, decision.KindKeyRemoved, k, fmt.Sprintf("key %s of %s removed from the directory", k.ID, party))
			}
		}
	}
	diff(brokerParty, prev.Broker.Keys, next.Broker.Keys)
	for i := range next.Agencies {
		a := &next.Agencies[i]
		var old []directory.Key
		if p, ok := prev.Lookup(a.ID); ok {
			old = p.Keys
		}
		diff(a.ID, old, a.Keys)
	}
	for i := range prev.Agencies {
		if _, ok := next.Lookup(prev.Agencies[i].ID); !ok {
			diff(prev.Agencies[i].ID, prev.Agencies[i].Keys, nil)
		}
	}
	return out
}
