package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// AuditKeyName is the name in the broker's audit key, which is also the
// origin line of the audit log's checkpoints. Every generation of the key
// has this name; they differ in their key hash.
const AuditKeyName = "sekretessbroker/audit"

// AuditKeyHistoryFile, beside the audit key, lists every public audit key
// the broker has had, oldest first, one a line: "<verifier key> <time>",
// the time being when the key was made (empty if not known). A checkpoint
// signed by any of them verifies, so that checkpoints made before a
// rotation stay verifiable offline. The file is public, like audit.pub.
const AuditKeyHistoryFile = "audit-keys.txt"

// EnsureAuditKey creates the audit signing key (a note private key, mode
// 0600) at path, its public verifier key at pubPath and the key history
// beside it, unless the key exists. It returns the verifier key.
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
	if err := addAuditHistory(historyPath(pubPath), vkey, time.Now()); err != nil {
		return "", err
	}
	return vkey, nil
}

func historyPath(pubPath string) string {
	return filepath.Join(filepath.Dir(pubPath), AuditKeyHistoryFile)
}

// LoadAuditKey reads the audit signing key and its public key file. If the
// public key file does not match the signing key (a rotation was cut short
// between the two writes), the matching key from the history beside it is
// taken and written back to pubPath.
func LoadAuditKey(path, pubPath string) (note.Signer, string, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, "", err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, "", fmt.Errorf("keys: %s: %v", path, err)
	}
	matches := func(v note.Verifier) bool { return v.KeyHash() == s.KeyHash() && v.Name() == s.Name() }
	v, err := LoadAuditVerifier(pubPath)
	if err != nil {
		return nil, "", err
	}
	if matches(v) {
		pub, _ := os.ReadFile(pubPath)
		return s, strings.TrimSpace(string(pub)), nil
	}
	hist, err := ReadAuditKeys(historyPath(pubPath))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	for _, k := range hist {
		if matches(k.Verifier) {
			if err := safefile.Write(pubPath, []byte(k.VKey+"\n"), 0o644); err != nil {
				return nil, "", fmt.Errorf("keys: audit public key: %w", err)
			}
			return s, k.VKey, nil
		}
	}
	return nil, "", fmt.Errorf("keys: %s is not the public key of %s, nor is any key in %s", pubPath, path, historyPath(pubPath))
}

// LoadAuditVerifier reads an audit public key file ("<name>+<hash>+<key>").
// In a file of several keys, such as the history, it is the last one.
func LoadAuditVerifier(path string) (note.Verifier, error) {
	ks, err := ReadAuditKeys(path)
	if err != nil {
		return nil, err
	}
	return ks[len(ks)-1].Verifier, nil
}

// AuditKey is one public key of the audit key history.
type AuditKey struct {
	// VKey is the note verifier key, "<name>+<hash>+<key>".
	VKey     string
	Verifier note.Verifier
	// Since is when the key was made; zero if not known. The broker signs
	// with it from its next start until the start after the next rotation.
	Since time.Time
}

// ReadAuditKeys reads a file of audit public keys, one a line, each
// optionally followed by the time it was made (RFC 3339); blank lines and
// lines starting with # are ignored. audit.pub and the history file both
// read with it. It fails if the file holds no key.
func ReadAuditKeys(path string) ([]AuditKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: audit public keys: %w", err)
	}
	var out []AuditKey
	for i, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		v, err := note.NewVerifier(f[0])
		if err != nil {
			return nil, fmt.Errorf("keys: %s:%d: %v", path, i+1, err)
		}
		k := AuditKey{VKey: f[0], Verifier: v}
		if len(f) > 1 {
			if k.Since, err = time.Parse(time.RFC3339, f[1]); err != nil {
				return nil, fmt.Errorf("keys: %s:%d: time: %w", path, i+1, err)
			}
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keys: %s holds no audit public key", path)
	}
	return out, nil
}

// LoadAuditVerifiers reads every audit public key of the files at paths
// (audit.pub, the history, or any file of keys one a line), skipping files
// that do not exist as long as one does: checkpoints signed by any of them
// verify.
func LoadAuditVerifiers(paths ...string) (note.Verifiers, error) {
	var vs []note.Verifier
	seen := map[string]bool{}
	for _, p := range paths {
		ks, err := ReadAuditKeys(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if !seen[k.VKey] {
				seen[k.VKey] = true
				vs = append(vs, k.Verifier)
			}
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("keys: no audit public key in %s", strings.Join(paths, ", "))
	}
	return note.VerifierList(vs...), nil
}

// AuditKeyHistory returns the verifiers of every audit key of the broker
// whose key directory is bdir: the history and the current audit.pub.
func AuditKeyHistory(bdir string) (note.Verifiers, error) {
	return LoadAuditVerifiers(filepath.Join(bdir, AuditKeyHistoryFile), filepath.Join(bdir, AuditPublicKeyFile))
}

// addAuditHistory appends vkey, made at since, to the history at path
// unless it is there already.
func addAuditHistory(path, vkey string, since time.Time) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keys: audit key history: %w", err)
	}
	if len(old) == 0 {
		old = []byte("# Every public audit key of this broker, oldest first, with the time it was made.\n" +
			"# Checkpoints signed by any of them verify; give this file to auditors and witnesses.\n")
	}
	for _, l := range strings.Split(string(old), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == vkey {
			return nil
		}
	}
	line := vkey
	if !since.IsZero() {
		line += " " + since.UTC().Format(time.RFC3339)
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		old = append(old, '\n')
	}
	if err := safefile.Write(path, append(old, line+"\n"...), 0o644); err != nil {
		return fmt.Errorf("keys: audit key history: %w", err)
	}
	return nil
}

// RotateAuditKey replaces the audit signing key at path (and its public key
// at pubPath) with a new one, after adding both public keys to the history
// beside pubPath, so that checkpoints signed by the old key stay verifiable.
// The old private key is gone afterwards. A running broker signs with the
// old key until it is restarted. It returns the new verifier key.
func RotateAuditKey(path, pubPath string, now time.Time) (vkey string, err error) {
	_, old, err := LoadAuditKey(path, pubPath)
	if err != nil {
		return "", err
	}
	hist := historyPath(pubPath)
	// A key made before the history existed has no known time.
	if err := addAuditHistory(hist, old, time.Time{}); err != nil {
		return "", err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, AuditKeyName)
	if err != nil {
		return "", fmt.Errorf("keys: audit key: %w", err)
	}
	// The history first: a checkpoint signed with the new key must never
	// exist while its public key is nowhere to be found.
	if err := addAuditHistory(hist, vkey, now); err != nil {
		return "", err
	}
	if err := safefile.Write(path, []byte(skey+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keys: audit key: %w", err)
	}
	if err := safefile.Write(pubPath, []byte(vkey+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("keys: audit public key (the history holds it; the broker repairs this file at start): %w", err)
	}
	return vkey, nil
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
