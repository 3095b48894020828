package audit

import (
	"fmt"
	"testing"
)

// TestFrontierMatchesTree: the right edge gives the same root as the whole
// tree at every size, and a snapshot of it opens only with its checkpoint.
func TestFrontierMatchesTree(t *testing.T) {
	var f frontier
	var full tree
	for i := range 300 {
		data := []byte(fmt.Sprintf("record %d", i))
		f.add(data)
		if err := full.add(data); err != nil {
			t.Fatal(err)
		}
		want, err := full.root(full.n)
		if err != nil {
			t.Fatal(err)
		}
		if f.n != full.n || f.root() != want {
			t.Fatalf("size %d: frontier root %s, tree root %s", full.n, f.root(), want)
		}
	}
	k := newKeyPair(t)
	msg, err := SignCheckpoint(k.signer, Checkpoint{Origin: k.signer.Name(), Size: f.n, Root: f.root()})
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{Checkpoint: msg, Edge: f.edge}
	got, err := s.open(k.verifier)
	if err != nil || got.n != f.n || got.root() != f.root() {
		t.Fatalf("snapshot open: %v", err)
	}
	bad := snapshot{Checkpoint: msg, Edge: append(f.edge[:len(f.edge)-1:len(f.edge)-1], f.edge[0])}
	if _, err := bad.open(k.verifier); err == nil {
		t.Fatal("a snapshot whose edge does not hash to its checkpoint's root opened")
	}
	other := newKeyPair(t)
	if _, err := s.open(other.verifier); err == nil {
		t.Fatal("a snapshot opened with another log's key")
	}
}
