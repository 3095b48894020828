package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

// TestAuditRotateKey: rotate-key replaces audit.pub and keeps the old key in
// the history, which is what verify, prove, check-proof and witness read.
func TestAuditRotateKey(t *testing.T) {
	data := t.TempDir()
	bdir := layout.BrokerKeys(data)
	pub := filepath.Join(bdir, keys.AuditPublicKeyFile)
	old, err := keys.EnsureAuditKey(filepath.Join(bdir, keys.AuditKeyFile), pub)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"audit", "rotate-key", "--data", data}, &out); err != nil {
		t.Fatal(err)
	}
	cur, err := keys.ReadAuditKeys(pub)
	if err != nil || cur[0].VKey == old || !strings.Contains(out.String(), cur[0].VKey) {
		t.Fatalf("rotate-key: %s (%v)", out.String(), err)
	}
	a := auditSource{data: data}
	vs, err := a.verifiers()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{old, cur[0].VKey} {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vs.Verifier(keys.AuditKeyName, v.KeyHash()); err != nil {
			t.Fatalf("audit commands do not trust %s after the rotation: %v", k, err)
		}
	}
}
