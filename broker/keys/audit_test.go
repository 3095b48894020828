package keys

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestAuditKeyHistory: every rotation keeps the public keys in the history,
// a rotation cut short between writing the private and the public key is
// repaired from the history, and a data directory from before the history
// gets one at its first rotation.
func TestAuditKeyHistory(t *testing.T) {
	dir := t.TempDir()
	key, pub, hist := filepath.Join(dir, AuditKeyFile), filepath.Join(dir, AuditPublicKeyFile), filepath.Join(dir, AuditKeyHistoryFile)
	v1, err := EnsureAuditKey(key, pub)
	if err != nil {
		t.Fatal(err)
	}
	if ks, err := ReadAuditKeys(hist); err != nil || len(ks) != 1 || ks[0].VKey != v1 || ks[0].Since.IsZero() {
		t.Fatalf("history of a new key: %+v, %v", ks, err)
	}
	v2, err := RotateAuditKey(key, pub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v3, err := RotateAuditKey(key, pub, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ReadAuditKeys(hist)
	if err != nil || len(ks) != 3 || ks[0].VKey != v1 || ks[1].VKey != v2 || ks[2].VKey != v3 {
		t.Fatalf("history after two rotations: %+v, %v", ks, err)
	}
	vs, err := AuditKeyHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if _, err := vs.Verifier(AuditKeyName, k.Verifier.KeyHash()); err != nil {
			t.Fatalf("key %s not among the verifiers: %v", k.VKey, err)
		}
	}

	// Cut short: audit.pub still names the old key.
	if err := os.WriteFile(pub, []byte(v2+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, vkey, err := LoadAuditKey(key, pub)
	if err != nil || vkey != v3 {
		t.Fatalf("load after a cut-short rotation: %q, %v", vkey, err)
	}
	if v, err := LoadAuditVerifier(pub); err != nil || v.KeyHash() != s.KeyHash() {
		t.Fatalf("audit.pub not repaired: %v", err)
	}

	// A data directory from before the history.
	old := t.TempDir()
	okey, opub := filepath.Join(old, AuditKeyFile), filepath.Join(old, AuditPublicKeyFile)
	first, err := EnsureAuditKey(okey, opub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(old, AuditKeyHistoryFile)); err != nil {
		t.Fatal(err)
	}
	if vs, err := AuditKeyHistory(old); err != nil {
		t.Fatalf("audit.pub alone: %v", err)
	} else if _, err := vs.Verifier(AuditKeyName, mustVerifierHash(t, first)); err != nil {
		t.Fatal(err)
	}
	if _, err := RotateAuditKey(okey, opub, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ks, err := ReadAuditKeys(filepath.Join(old, AuditKeyHistoryFile)); err != nil || len(ks) != 2 || ks[0].VKey != first || !ks[0].Since.IsZero() {
		t.Fatalf("history made at the first rotation: %+v, %v", ks, err)
	}
	if _, err := LoadAuditVerifiers(filepath.Join(old, "none")); err == nil {
		t.Fatal("no key file, yet verifiers")
	}
}

func mustVerifierHash(t *testing.T, vkey string) uint32 {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v.KeyHash()
}
