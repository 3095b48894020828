package keys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// pseudonymKeyPrefix starts every pseudonym key file, so that the secret is
// recognisable for what it is and cannot be mistaken for another key.
const pseudonymKeyPrefix = "SEKRETESS-PSEUDONYM-KEY-"

// pseudonymSecretSize is the secret's length in bytes.
const pseudonymSecretSize = 32

// WritePseudonymKey creates a new random pseudonym secret at path, mode 0600:
// "SEKRETESS-PSEUDONYM-KEY-" followed by 64 hex digits. It fails if path
// already exists.
func WritePseudonymKey(path string) error {
	var b [pseudonymSecretSize]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("keys: pseudonym key: %w", err)
	}
	return writeNew(path, []byte(pseudonymKeyPrefix+hex.EncodeToString(b[:])+"\n"))
}

// CopyPseudonymKey copies the pseudonym key at from to a new file to (mode
// 0600), to hand it to an agency with its other keys. It checks that from
// holds a pseudonym key first and fails if to already exists.
func CopyPseudonymKey(from, to string) error {
	b, err := readKeyFile(from)
	if err != nil {
		return err
	}
	if _, err := parsePseudonymKey(b); err != nil {
		return fmt.Errorf("keys: %s: %w", from, err)
	}
	return writeNew(to, b)
}

// LoadPseudonymSecret reads a key written by WritePseudonymKey and returns
// the secret's 32 bytes.
func LoadPseudonymSecret(path string) ([]byte, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	secret, err := parsePseudonymKey(b)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	return secret, nil
}

func parsePseudonymKey(b []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), pseudonymKeyPrefix)
	secret, err := hex.DecodeString(s)
	if !ok || err != nil || len(secret) != pseudonymSecretSize {
		return nil, errors.New("not a pseudonym key (want \"" + pseudonymKeyPrefix + "\" and 64 hex digits)")
	}
	return secret, nil
}
