package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPseudonymKey(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, PseudonymKeyFile)
	b := filepath.Join(dir, "agencies", "polis", PseudonymKeyFile)
	if err := WritePseudonymKey(a); err != nil {
		t.Fatal(err)
	}
	checkMode(t, a)
	checkNoOverwrite(t, a, func() error { return WritePseudonymKey(a) })
	raw, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(raw); !strings.HasPrefix(s, "SEKRETESS-PSEUDONYM-KEY-") || len(s) != len("SEKRETESS-PSEUDONYM-KEY-")+64+1 {
		t.Errorf("key file %q: want the prefix, 64 hex digits and a newline", s)
	}
	if err := CopyPseudonymKey(a, b); err != nil {
		t.Fatal(err)
	}
	checkMode(t, b)
	checkNoOverwrite(t, b, func() error { return CopyPseudonymKey(a, b) })
	sa, err := LoadPseudonymSecret(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := LoadPseudonymSecret(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa) != 32 || !bytes.Equal(sa, sb) {
		t.Errorf("secrets %x and %x: want the same 32 bytes in the copy", sa, sb)
	}
}

func TestPseudonymKeyErrors(t *testing.T) {
	dir := t.TempDir()
	signing := filepath.Join(dir, SigningKeyFile)
	if err := os.WriteFile(signing, []byte("-----BEGIN PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPseudonymSecret(signing); err == nil || !strings.Contains(err.Error(), "not a pseudonym key") {
		t.Errorf("loading another kind of key: %v, want \"not a pseudonym key\"", err)
	}
	to := filepath.Join(dir, "copy")
	if err := CopyPseudonymKey(signing, to); err == nil {
		t.Error("copied something that is not a pseudonym key")
	}
	if _, err := os.Stat(to); err == nil {
		t.Error("a failed copy left a file behind")
	}
}
