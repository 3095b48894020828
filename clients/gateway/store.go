package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// States of a sent message's record.
const (
	// stateSealed: sealed and recorded, maybe published (a crash may have
	// come between the two); a retry publishes the same envelope again.
	stateSealed = "sealed"
	// stateSent: the broker's inbound stream stored it; its decision is
	// awaited.
	stateSent = "sent"
	// stateDecided: the broker's decision arrived; Status and Body are the
	// answer every retry gets.
	stateDecided = "decided"
	// stateFailed: it never reached the broker; a retry seals it anew.
	stateFailed = "failed"
)

// sentRecord is what the gateway keeps of one message it sent, in
// <home>/gateway/messages/<id>.json: enough to answer a retry with the
// same result after a restart of the gateway or of the broker, and to
// publish the very same envelope again when its fate is unknown.
type sentRecord struct {
	ID     string `json:"id"`
	System string `json:"system"`
	// RequestSHA256 is the hash of the request it was made from, so that an
	// idempotency key reused for another request is refused.
	RequestSHA256 string    `json:"request_sha256"`
	Envelope      []byte    `json:"envelope,omitempty"`
	State         string    `json:"state"`
	Status        int       `json:"status,omitempty"`
	Body          rawJSON   `json:"body,omitempty"`
	At            time.Time `json:"at"`
}

// rawJSON is a json.RawMessage that stays null when empty.
type rawJSON = json.RawMessage

// keyRecord maps an idempotency key to the message sent under it, in
// <home>/gateway/keys/<sha256 of system and key>.json.
type keyRecord struct {
	MessageID     string `json:"message_id"`
	RequestSHA256 string `json:"request_sha256"`
}

// store is the gateway's records on disk. Every write goes through
// safefile, so a crash leaves each file whole, old or new.
type store struct {
	dir string

	mu    sync.Mutex
	locks map[string]*sync.Mutex // per idempotency key: one request at a time
}

var messageID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func openStore(home string) (*store, error) {
	dir := layout.HomeGateway(home)
	for _, d := range []string{filepath.Join(dir, "messages"), filepath.Join(dir, "keys")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
	}
	return &store{dir: dir, locks: map[string]*sync.Mutex{}}, nil
}

// keyLock returns the lock of one idempotency key; it serialises requests
// with the same key within this process.
func (s *store) keyLock(name string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[name] = l
	}
	return l
}

// keyName is the file name of a system's idempotency key: a hash, so that
// whatever a caller puts in the key never names a file.
func keyName(system, key string) string {
	h := sha256.Sum256([]byte(system + "\x00" + key))
	return hex.EncodeToString(h[:])
}

func (s *store) keyPath(name string) string {
	return filepath.Join(s.dir, "keys", name+".json")
}

func (s *store) messagePath(id string) string {
	return filepath.Join(s.dir, "messages", id+".json")
}

func (s *store) getKey(name string) (*keyRecord, error) {
	var k keyRecord
	if err := readJSON(s.keyPath(name), &k); err != nil {
		return nil, err
	}
	return &k, nil
}

func (s *store) putKey(name string, k keyRecord) error {
	return writeJSON(s.keyPath(name), k)
}

// get returns the record of message id; fs.ErrNotExist when there is none.
func (s *store) get(id string) (*sentRecord, error) {
	if !messageID.MatchString(id) {
		return nil, fmt.Errorf("%q is not a message id: %w", id, fs.ErrNotExist)
	}
	var r sentRecord
	if err := readJSON(s.messagePath(id), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (s *store) put(r *sentRecord) error {
	return writeJSON(s.messagePath(r.ID), r)
}

// pending returns the records whose decision has not arrived: sealed or
// sent.
func (s *store) pending() ([]*sentRecord, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "messages"))
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	var out []*sentRecord
	var errs []error
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !messageID.MatchString(id) {
			continue
		}
		r, err := s.get(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.State == stateSealed || r.State == stateSent {
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("gateway: %s is damaged: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if err := safefile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}
