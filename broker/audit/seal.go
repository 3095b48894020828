package audit

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go/jetstream"
)

// Sealed is a record's personal fields, encrypted (AES-256-GCM) under the data
// key of a retention period. The key is in the period's key stream, wrapped
// with age to the auditors (see keystore.go); once it is shredded the
// ciphertext stays in the log, and in the tree, but cannot be opened.
type Sealed struct {
	Period string `json:"period"`
	KeyID  string `json:"key_id"`
	// Ciphertext is the GCM nonce followed by the sealed JSON of Personal; the
	// decision id is its associated data, so it cannot be moved to another record.
	Ciphertext []byte `json:"ciphertext"`
}

// ErrShredded is returned when a period's data key no longer exists.
var ErrShredded = errors.New("audit: the data key of this period was shredded; the personal fields are unrecoverable")

// Period returns the retention period (a calendar month, UTC) of t.
func Period(t time.Time) string { return t.UTC().Format("2006-01") }

func keyName(period, id string) string { return "period." + period + "." + id }

// sealer holds the current period's data key. Each broker makes its own
// key per period, so replicas never need to read each other's keys (which
// are wrapped to the auditors, not to the broker).
type sealer struct {
	store    *keyStore
	auditors []age.Recipient

	mu     sync.Mutex
	period string
	id     string
	aead   cipher.AEAD
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *sealer) seal(ctx context.Context, at time.Time, decisionID string, p *Personal) (*Sealed, error) {
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("audit: seal: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	period := Period(at)
	if s.period != period || s.aead == nil {
		if err := s.newKey(ctx, period); err != nil {
			return nil, err
		}
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("audit: seal: %w", err)
	}
	ct := s.aead.Seal(nonce, nonce, plain, []byte(decisionID))
	return &Sealed{Period: s.period, KeyID: s.id, Ciphertext: ct}, nil
}

// newKey makes and stores the data key of period. The key is stored before it
// is used, so no record refers to a key that is not in the bucket.
func (s *sealer) newKey(ctx context.Context, period string) error {
	key := make([]byte, 32)
	idb := make([]byte, 8)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("audit: data key: %w", err)
	}
	if _, err := rand.Read(idb); err != nil {
		return fmt.Errorf("audit: data key: %w", err)
	}
	var wrapped bytes.Buffer
	w, err := age.Encrypt(&wrapped, s.auditors...)
	if err != nil {
		return fmt.Errorf("audit: wrap data key: %w", err)
	}
	if _, err := w.Write(key); err != nil {
		return fmt.Errorf("audit: wrap data key: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("audit: wrap data key: %w", err)
	}
	id := hex.EncodeToString(idb)
	if err := s.store.put(ctx, period, id, wrapped.Bytes()); err != nil {
		return err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return fmt.Errorf("audit: data key: %w", err)
	}
	s.period, s.id, s.aead = period, id, aead
	return nil
}

// Opener opens sealed personal fields with an auditor's identities.
type Opener struct {
	js         jetstream.JetStream
	identities []age.Identity
	mu         sync.Mutex
	keys       map[string]cipher.AEAD
}

// NewOpener returns an Opener reading wrapped keys over js: from the key
// stream of each record's period, or the key bucket of older deployments.
// An auditor's connection may read them; it needs no other permission.
func NewOpener(js jetstream.JetStream, identities ...age.Identity) *Opener {
	return &Opener{js: js, identities: identities, keys: map[string]cipher.AEAD{}}
}

// Open decrypts the personal fields of the record with the given decision id.
func (o *Opener) Open(ctx context.Context, s *Sealed, decisionID string) (*Personal, error) {
	name := keyName(s.Period, s.KeyID)
	o.mu.Lock()
	aead, ok := o.keys[name]
	o.mu.Unlock()
	if !ok {
		wrapped, err := getKey(ctx, o.js, s.Period, s.KeyID)
		if errors.Is(err, errNoKey) {
			return nil, fmt.Errorf("%w (%s)", ErrShredded, s.Period)
		}
		if err != nil {
			return nil, err
		}
		r, err := age.Decrypt(bytes.NewReader(wrapped), o.identities...)
		if err != nil {
			return nil, fmt.Errorf("audit: unwrap data key %s: %w", name, err)
		}
		key, err := io.ReadAll(io.LimitReader(r, 64))
		if err != nil {
			return nil, fmt.Errorf("audit: unwrap data key %s: %w", name, err)
		}
		if aead, err = newAEAD(key); err != nil {
			return nil, fmt.Errorf("audit: data key %s: %w", name, err)
		}
		o.mu.Lock()
		o.keys[name] = aead
		o.mu.Unlock()
	}
	ns := aead.NonceSize()
	if len(s.Ciphertext) < ns {
		return nil, errors.New("audit: sealed fields are too short")
	}
	plain, err := aead.Open(nil, s.Ciphertext[:ns], s.Ciphertext[ns:], []byte(decisionID))
	if err != nil {
		return nil, fmt.Errorf("audit: sealed fields do not open: %w", err)
	}
	var p Personal
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, fmt.Errorf("audit: sealed fields: %w", err)
	}
	return &p, nil
}
