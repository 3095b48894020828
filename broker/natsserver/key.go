package natsserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// KeyFile is the name of the JetStream encryption key in the broker's key
// directory, <data>/broker/.
const KeyFile = "jetstream.key"

// EnsureKey returns the JetStream encryption key stored at path, creating it
// (32 random bytes, hex encoded, mode 0600) when the file does not exist.
//
// Losing the key loses every stream of the embedded server, the audit log
// among them: back it up apart from the data directory's JetStream files.
func EnsureKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return "", fmt.Errorf("natsserver: %s holds no JetStream key (want 64 hex digits); restore it from a backup", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("natsserver: JetStream key: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	key := hex.EncodeToString(raw)
	err = safefile.Create(path, []byte(key+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it in between: use that one.
		return EnsureKey(path)
	}
	if err != nil {
		return "", fmt.Errorf("natsserver: JetStream key: %w", err)
	}
	return key, nil
}
