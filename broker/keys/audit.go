package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// AuditKeyName is the name in the broker's audit key, which is also the
// origin line of the audit log's checkpoints.
const AuditKeyName = "sekretessbroker/audit"

// EnsureAuditKey creates the audit signing key (a note private key, mode
// 0600) at path and its public verifier key at pubPath, unless the key
// exists. It returns the verifier key.
func EnsureAuditKey(path, pubPath string) (vkey string, err error) {
	if _, err := os.Stat(path); err == nil {
		_, vkey, err := LoadAuditKey(path, pubPath)
		return vkey, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("keys: %w", err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, AuditKeyName)
	if err != nil {
		return "", fmt.Errorf("keys: audit key: %w", err)
	}
	if err := writeNew(path, []byte(skey+"\n")); err != nil {
		return "", err
	}
	// The public key is derived from the new private one, so an older file
	// at pubPath is stale and replaced.
	if err := safefile.Write(pubPath, []byte(vkey+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("keys: audit public key: %w", err)
	}
	return vkey, nil
}

// LoadAuditKey reads the audit signing key and its public key file.
func LoadAuditKey(path, pubPath string) (note.Signer, string, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("keys: %s: %v", path, err)
	}
	v, err := LoadAuditVerifier(pubPath)
	if err != nil {
		return nil, "", err
	}
	if v.KeyHash() != s.KeyHash() || v.Name() != s.Name() {
		return nil, "", fmt.Errorf("keys: %s is not the public key of %s", pubPath, path)
	}
	pub, _ := os.ReadFile(pubPath)
	return s, strings.TrimSpace(string(pub)), nil
}

// LoadAuditVerifier reads an audit public key file ("<name>+<hash>+<key>").
func LoadAuditVerifier(path string) (note.Verifier, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %v", path, err)
	}
	return v, nil
}

// LoadAgeRecipients reads age recipients, one per line; blank lines and
// lines starting with # are ignored. A missing file means none.
func LoadAgeRecipients(path string) ([]age.Recipient, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	var out []age.Recipient
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		r, err := ParseAgeRecipient(l)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}
