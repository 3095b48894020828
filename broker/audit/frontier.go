package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// frontier is the right edge of the Merkle tree: the hashes of the complete
// subtrees that the first n records split into, largest first (one per bit
// set in n). It is all a Log needs to add records and sign checkpoints, so
// the Log holds O(log n) hashes, not the whole tree; proofs are computed
// from the stream or an export (verify.go).
type frontier struct {
	n    int64
	edge []tlog.Hash
	// last is the leaf hash of record n, which a snapshot keeps so that it
	// is not taken for the state of another stream (one recreated under
	// the same name).
	last tlog.Hash
}

// add appends one record's leaf.
func (f *frontier) add(data []byte) {
	f.last = tlog.RecordHash(data)
	f.edge = append(f.edge, f.last)
	// Each trailing one bit of n is a complete subtree of the same height
	// as the one just finished: merge them.
	for k := f.n; k&1 == 1; k >>= 1 {
		i := len(f.edge) - 2
		f.edge[i] = tlog.NodeHash(f.edge[i], f.edge[i+1])
		f.edge = f.edge[:i+1]
	}
	f.n++
}

// root returns the tree hash of the n records (RFC 6962): the edge folded
// from the right.
func (f *frontier) root() tlog.Hash {
	if f.n == 0 {
		return tlog.Hash{}
	}
	h := f.edge[len(f.edge)-1]
	for i := len(f.edge) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.edge[i], h)
	}
	return h
}

// snapshot is what a Log publishes with each checkpoint so that the next
// broker starts from it instead of reading the whole log: the signed
// checkpoint and the tree's right edge at its size. It is trusted only when
// the checkpoint's signature verifies with the log's keys and the edge folds
// to the checkpoint's root hash.
type snapshot struct {
	Checkpoint []byte      `json:"checkpoint"`
	Edge       []tlog.Hash `json:"edge"`
	// Last is the leaf hash of the checkpoint's last record.
	Last tlog.Hash `json:"last"`
}

// errNoSnapshot means the state stream holds no usable snapshot.
var errNoSnapshot = errors.New("audit: no snapshot")

// open verifies s and returns the frontier it holds.
func (s *snapshot) open(keys note.Verifiers) (frontier, error) {
	c, _, err := OpenCheckpoint(s.Checkpoint, keys)
	if err != nil {
		return frontier{}, err
	}
	if len(s.Edge) != bits.OnesCount64(uint64(c.Size)) {
		return frontier{}, fmt.Errorf("audit: snapshot at size %d has %d edge hashes", c.Size, len(s.Edge))
	}
	f := frontier{n: c.Size, edge: s.Edge, last: s.Last}
	if f.root() != c.Root {
		return frontier{}, fmt.Errorf("audit: snapshot's edge does not hash to its checkpoint's root at size %d", c.Size)
	}
	return f, nil
}

// setupState creates the stream that keeps the latest snapshots.
func setupState(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: bus.StreamAuditState, Subjects: []string{bus.AuditState},
		Description: "The audit log's latest signed checkpoints with the tree's right edge, so that a broker opens the log without reading it whole.",
		Storage:     jetstream.FileStorage, Replicas: replicas,
		MaxMsgsPerSubject: 8, MaxMsgSize: 64 << 10, Discard: jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", bus.StreamAuditState, err)
	}
	return s, nil
}

// loadSnapshot returns the frontier of the latest snapshot that verifies and
// that the audit stream (last, its last sequence) covers, or errNoSnapshot.
func loadSnapshot(ctx context.Context, state, records jetstream.Stream, keys note.Verifiers, last uint64) (frontier, error) {
	m, err := state.GetLastMsgForSubject(ctx, bus.AuditState)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return frontier{}, errNoSnapshot
	}
	if err != nil {
		return frontier{}, fmt.Errorf("audit: snapshot: %w", err)
	}
	var s snapshot
	if err := json.Unmarshal(m.Data, &s); err != nil {
		return frontier{}, fmt.Errorf("audit: snapshot %d: %w", m.Sequence, err)
	}
	f, err := s.open(keys)
	if err != nil {
		return frontier{}, err
	}
	if uint64(f.n) > last {
		return frontier{}, fmt.Errorf("audit: snapshot at size %d is past the stream's last record %d", f.n, last)
	}
	if f.n > 0 {
		m, err := records.GetMsg(ctx, uint64(f.n))
		if err != nil {
			return frontier{}, fmt.Errorf("audit: snapshot's last record %d: %w", f.n, err)
		}
		if tlog.RecordHash(m.Data) != f.last {
			return frontier{}, fmt.Errorf("audit: record %d is not the one the snapshot was taken after (was the audit stream recreated?)", f.n)
		}
	}
	return f, nil
}

// publishSnapshot stores the checkpoint msg, signed at f's size, with f.
func publishSnapshot(ctx context.Context, js jetstream.JetStream, msg []byte, f frontier) error {
	data, err := json.Marshal(snapshot{Checkpoint: msg, Edge: f.edge, Last: f.last})
	if err != nil {
		return fmt.Errorf("audit: snapshot: %w", err)
	}
	if _, err := js.Publish(ctx, bus.AuditState, data, jetstream.WithExpectStream(bus.StreamAuditState)); err != nil {
		return fmt.Errorf("audit: publish snapshot: %w", err)
	}
	return nil
}
