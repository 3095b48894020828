package audit

import (
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

// TestAuditKeyRotation signs checkpoints with the audit key, rotates it,
// and signs more with the new key on the same log: with the key history
// every checkpoint verifies, proofs check and a witness that cosigned under
// the old key goes on cosigning; with the current key alone the old
// checkpoints do not verify, and a checkpoint signed by a key outside the
// history is refused everywhere.
func TestAuditKeyRotation(t *testing.T) {
	bdir := t.TempDir()
	skeyPath, pubPath := filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile)
	if _, err := keys.EnsureAuditKey(skeyPath, pubPath); err != nil {
		t.Fatal(err)
	}
	loadSigner := func() keyPair {
		t.Helper()
		s, vkey, err := keys.LoadAuditKey(skeyPath, pubPath)
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		return keyPair{s, note.VerifierList(v)}
	}
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	now := time.Now()

	k1 := loadSigner()
	l1 := openLog(t, js, k1)
	before := appendN(t, l1, 1, 3, now)
	cp1, err := l1.Checkpoint(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	skey, wvkey, err := GenerateWitnessKey("jo.se/witness")
	if err != nil {
		t.Fatal(err)
	}
	hist := func() note.Verifiers {
		t.Helper()
		vs, err := keys.AuditKeyHistory(bdir)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	state := filepath.Join(t.TempDir(), "witness.json")
	w, err := NewWitness(skey, state, hist(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(cp1, nil); err != nil {
		t.Fatal(err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}

	vkey2, err := keys.RotateAuditKey(skeyPath, pubPath, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k2 := loadSigner()
	if k2.signer.KeyHash() == k1.signer.KeyHash() {
		t.Fatal("the rotated key is the old one")
	}
	if cur, err := keys.LoadAuditVerifier(pubPath); err != nil || cur.KeyHash() != k2.signer.KeyHash() {
		t.Fatalf("audit.pub after the rotation is not the new key %s: %v", vkey2, err)
	}
	ks, err := keys.ReadAuditKeys(filepath.Join(bdir, keys.AuditKeyHistoryFile))
	if err != nil || len(ks) != 2 || ks[0].Since.IsZero() || ks[1].VKey != vkey2 {
		t.Fatalf("history after one rotation: %+v, %v", ks, err)
	}
	l2 := openLog(t, js, k2)
	appendN(t, l2, 4, 3, now)
	cp2, err := l2.Checkpoint(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}

	// With the history, both generations verify.
	rep, err := Verify(ex, hist())
	if err != nil {
		t.Fatalf("verify with the key history: %v", err)
	}
	if rep.Records != 6 || rep.Checkpoints < 2 || rep.Uncovered != 0 {
		t.Fatalf("report: %+v", rep)
	}
	for _, cp := range [][]byte{cp1, cp2} {
		if _, _, err := OpenCheckpoint(cp, hist()); err != nil {
			t.Fatalf("a checkpoint with the history: %v", err)
		}
	}
	p, err := Prove(ex, hist(), before[0].DecisionID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := CheckProof(p, hist()); err != nil {
		t.Fatalf("a proof of a record from before the rotation: %v", err)
	}
	// The witness trusts only the keys it was given: the new key's
	// checkpoint is refused until its operator gives it the new history;
	// then it cosigns, still checking that the checkpoint extends what it
	// signed under the old key (same state file).
	proof, err := ConsistencyProof(ex, 3, 6)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(cp2, proof); err == nil {
		t.Fatal("a witness given only the old key cosigned a checkpoint of the new key")
	}
	if w, err = NewWitness(skey, state, hist(), nil); err != nil {
		t.Fatal(err)
	}
	cs, err := w.Cosign(cp2, proof)
	if err != nil {
		t.Fatalf("witness after the rotation: %v", err)
	}
	wv, err := NewWitnessVerifier(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	if len(Cosigned(cs, wv)) != 1 {
		t.Fatal("the witness's cosignature on the new key's checkpoint does not verify")
	}

	// The current key alone does not verify the old checkpoints.
	if _, err := Verify(ex, k2.verifier); err == nil {
		t.Fatal("checkpoints of the old key verified with the new key alone")
	}

	// A key outside the history, with the log's very name, signs a
	// checkpoint of the true tree: refused.
	sx, _, err := note.GenerateKey(rand.Reader, keys.AuditKeyName)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := note.NewSigner(sx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCheckpointNote(cp2)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := SignCheckpoint(stranger, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenCheckpoint(forged, hist()); err == nil {
		t.Fatal("a checkpoint signed by a key outside the history opened")
	}
	bad := &Export{Records: ex.Records, Checkpoints: append(append([][]byte(nil), ex.Checkpoints...), forged)}
	if _, err := Verify(bad, hist()); err == nil {
		t.Fatal("a log with a checkpoint signed by a key outside the history verified")
	}
	if _, err := w.Cosign(forged, nil); err == nil {
		t.Fatal("the witness cosigned a checkpoint signed by a key outside the history")
	}
	if _, _, err := CheckProof(&Proof{Checkpoint: string(forged), Index: p.Index, Record: p.Record, Path: p.Path}, hist()); err == nil {
		t.Fatal("a proof against a checkpoint signed by a key outside the history checked")
	}
}
