package audit

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memLog is a log held in memory, signed with k: enough to make the
// checkpoints of an honest log and of a fork.
type memLog struct {
	k  keyPair
	ex Export
	t  tree
}

func (m *memLog) add(t *testing.T, data string) {
	t.Helper()
	m.ex.Records = append(m.ex.Records, Record{Seq: m.t.n + 1, Data: []byte(data)})
	if err := m.t.add([]byte(data)); err != nil {
		t.Fatal(err)
	}
}

func (m *memLog) checkpoint(t *testing.T) []byte {
	t.Helper()
	root, err := m.t.root(m.t.n)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := SignCheckpoint(m.k.signer, Checkpoint{Origin: m.k.signer.Name(), Size: m.t.n, Root: root, Time: time.Now().UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func (m *memLog) proof(t *testing.T, old int64) tlog.TreeProof {
	t.Helper()
	if old == 0 || old == m.t.n {
		return nil
	}
	p, err := tlog.ProveTree(m.t.n, old, &m.t)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWitness(t *testing.T) {
	k := newKeyPair(t)
	honest := &memLog{k: k}
	fork := &memLog{k: k} // the same key, another history
	for i := range 3 {
		honest.add(t, fmt.Sprintf("record %d", i))
		fork.add(t, fmt.Sprintf("record %d", i))
	}
	fork.ex.Records[1].Data = []byte("record 1, rewritten")
	fork.t = tree{}
	for _, r := range fork.ex.Records {
		if err := fork.t.add(r.Data); err != nil {
			t.Fatal(err)
		}
	}

	skey, vkey, err := GenerateWitnessKey("jo.se/witness")
	if err != nil {
		t.Fatal(err)
	}
	wv, err := NewWitnessVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWitness(skey, filepath.Join(t.TempDir(), "state.json"), k.verifier, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The first checkpoint is signed; the cosignature verifies with the
	// witness's public key and the log's signature is still there.
	cs, err := w.Cosign(honest.checkpoint(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(cs, note.VerifierList(wv)); err != nil {
		t.Fatalf("cosignature: %v", err)
	}
	if _, _, err := OpenCheckpoint(cs, k.verifier); err != nil {
		t.Fatalf("log signature after cosigning: %v", err)
	}

	// The fork at the same size: refused.
	if _, err := w.Cosign(fork.checkpoint(t), nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("same size, other root: %v", err)
	}
	// The fork grown: no consistency proof from what the witness signed.
	fork.add(t, "record 3")
	fork.add(t, "record 4")
	if _, err := w.Cosign(fork.checkpoint(t), fork.proof(t, 3)); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("grown fork: %v", err)
	}
	// The honest log grown: signed, with its proof.
	honest.add(t, "record 3")
	honest.add(t, "record 4")
	if _, err := w.Cosign(honest.checkpoint(t), honest.proof(t, 3)); err != nil {
		t.Fatalf("honest extension: %v", err)
	}
	if n, _ := w.LastSize(); n != 5 {
		t.Fatalf("witness state size %d, want 5", n)
	}
	// An older checkpoint than the one signed: refused as stale.
	older := &memLog{k: k}
	older.add(t, "record 0")
	if _, err := w.Cosign(older.checkpoint(t), nil); !errors.Is(err, ErrStale) {
		t.Fatalf("older checkpoint: %v", err)
	}
	// A checkpoint signed by another key: refused.
	other := &memLog{k: newKeyPair(t)}
	other.add(t, "x")
	if _, err := w.Cosign(other.checkpoint(t), nil); err == nil {
		t.Fatal("a checkpoint by another key was cosigned")
	}
}
