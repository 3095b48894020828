package directory

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

// Key is one generation of a party's public keys. A party holds several
// while it rotates: the new one is added, senders seal to both, and the old
// one is given a not_after or revoked once nothing needs it.
type Key struct {
	// ID names the key in envelopes and receipts: KeyID of SigningKey.
	ID           string `json:"id"`
	SigningKey   string `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	// NKey is the NATS user public key ("U…") of this generation; empty
	// when NATS authenticates the party by other means.
	NKey string `json:"nkey,omitempty"`
	// NotBefore is when the key starts to speak for its party. Zero (and
	// absent from the file) means since always, as for a key read from the
	// single-key form.
	NotBefore time.Time `json:"not_before,omitzero"`
	// NotAfter, if set, is when the key stops speaking for its party.
	NotAfter *time.Time `json:"not_after,omitempty"`
	// RevokedAt, if set, is when the key was withdrawn, for instance
	// because it leaked; nothing signed with it at or after that time is
	// accepted.
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokedReason string     `json:"revoked_reason,omitempty"`

	signing   ed25519.PublicKey
	recipient age.Recipient
}

// SigningPublicKey returns the key's parsed ed25519 public key.
func (k *Key) SigningPublicKey() ed25519.PublicKey { return k.signing }

// Recipient returns the key's parsed age recipient.
func (k *Key) Recipient() age.Recipient { return k.recipient }

// ValidAt reports whether the key speaks for its party at t: not before
// NotBefore, before NotAfter and before RevokedAt.
func (k *Key) ValidAt(t time.Time) bool { return k.check(t) == nil }

// Revoked reports whether the key has been revoked at or before t.
func (k *Key) Revoked(t time.Time) bool { return k.RevokedAt != nil && !t.Before(*k.RevokedAt) }

// check returns the sentinel error saying why k is not valid at t, or nil.
// Revocation is reported first: it is what an operator must hear about.
func (k *Key) check(t time.Time) error {
	switch {
	case k.Revoked(t):
		return ErrKeyRevoked
	case t.Before(k.NotBefore):
		return ErrKeyNotYetValid
	case k.NotAfter != nil && !t.Before(*k.NotAfter):
		return ErrKeyExpired
	}
	return nil
}

// Errors from KeyAt, wrapped in a *KeyError. Test for them with errors.Is.
var (
	ErrUnknownKey     = errors.New("directory: unknown key")
	ErrKeyNotYetValid = errors.New("directory: key not yet valid")
	ErrKeyExpired     = errors.New("directory: key expired")
	ErrKeyRevoked     = errors.New("directory: key revoked")
)

// KeyError says which key of which party could not be used, and why.
type KeyError struct {
	Owner string // agency id, or "the broker"
	KID   string
	At    time.Time
	Err   error // one of ErrUnknownKey, ErrKeyNotYetValid, ErrKeyExpired, ErrKeyRevoked
	// Reason is the revocation reason, for ErrKeyRevoked.
	Reason string
}

func (e *KeyError) Error() string {
	at := e.At.UTC().Format(time.RFC3339)
	switch e.Err {
	case ErrUnknownKey:
		return fmt.Sprintf("key %q is not one of %s's keys in the directory", e.KID, e.Owner)
	case ErrKeyNotYetValid:
		return fmt.Sprintf("key %s of %s is not yet valid at %s (check not_before, or the sender's clock)", e.KID, e.Owner, at)
	case ErrKeyExpired:
		return fmt.Sprintf("key %s of %s expired before %s", e.KID, e.Owner, at)
	case ErrKeyRevoked:
		return fmt.Sprintf("key %s of %s was revoked before %s (%s)", e.KID, e.Owner, at, e.Reason)
	}
	return fmt.Sprintf("key %s of %s: %v", e.KID, e.Owner, e.Err)
}

// Unwrap returns the sentinel error.
func (e *KeyError) Unwrap() error { return e.Err }

// KeyID returns the id of a signing public key: "k-" and the first 16 hex
// digits of the SHA-256 of its 32 bytes. Anyone holding the public key can
// compute it, so an id can't be made to name another key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "k-" + hex.EncodeToString(sum[:8])
}

var kidPattern = regexp.MustCompile(`^k-[0-9a-f]{16}$`)

// ValidKeyID reports whether s is a well-formed key id.
func ValidKeyID(s string) bool { return kidPattern.MatchString(s) }

// keyRing is the key list shared by agencies and the broker.
type keyRing []Key

func (r keyRing) find(kid string) (*Key, bool) {
	for i := range r {
		if r[i].ID == kid {
			return &r[i], true
		}
	}
	return nil, false
}

func (r keyRing) at(owner, kid string, t time.Time) (*Key, error) {
	for i := range r {
		k := &r[i]
		if k.ID != kid {
			continue
		}
		if err := k.check(t); err != nil {
			return nil, &KeyError{Owner: owner, KID: kid, At: t, Err: err, Reason: k.RevokedReason}
		}
		return k, nil
	}
	return nil, &KeyError{Owner: owner, KID: kid, At: t, Err: ErrUnknownKey}
}

// recipients lists the age recipients of the keys valid at t. age does not
// encrypt one file to both hybrid and X25519 recipients, so when the valid
// keys mix the two kinds only the hybrid ones are listed: a party moving to
// a post-quantum key is read with it from its not_before on, rather than
// every message falling back to a key a quantum computer could break.
func (r keyRing) recipients(t time.Time) []age.Recipient {
	var pq, classic []age.Recipient
	for i := range r {
		if !r[i].ValidAt(t) {
			continue
		}
		if strings.HasPrefix(r[i].AgeRecipient, "age1pq1") {
			pq = append(pq, r[i].recipient)
		} else {
			classic = append(classic, r[i].recipient)
		}
	}
	if len(pq) > 0 {
		return pq
	}
	return classic
}

// nkeys lists the nkeys that may log in at t: those of keys neither revoked
// nor expired. not_before does not hold a login back: a NATS login signs
// nothing, and the pipeline checks every envelope's key by itself.
func (r keyRing) nkeys(t time.Time) []string {
	var out []string
	for i := range r {
		k := &r[i]
		if k.NKey == "" || k.Revoked(t) || (k.NotAfter != nil && !t.Before(*k.NotAfter)) {
			continue
		}
		out = append(out, k.NKey)
	}
	return out
}

// primary is the newest key not revoked now, or failing that the newest:
// the one the single-key accessors report.
func (r keyRing) primary(now time.Time) *Key {
	var best *Key
	for i := range r {
		k := &r[i]
		if k.Revoked(now) {
			continue
		}
		if best == nil || !k.NotBefore.Before(best.NotBefore) {
			best = k
		}
	}
	if best == nil {
		for i := range r {
			if best == nil || !r[i].NotBefore.Before(best.NotBefore) {
				best = &r[i]
			}
		}
	}
	return best
}

// normalize turns the single-key form into a one-key list, validates every
// key and returns a copy of the list with its parsed keys (the caller's
// slice may be shared with another Directory and is not written).
func normalize(owner string, list []Key, signing, recipient, nkey string) ([]Key, error) {
	legacy := signing != "" || recipient != "" || nkey != ""
	if len(list) == 0 && !legacy {
		return nil, fmt.Errorf("%s: no keys; add at least one under keys", owner)
	}
	list = keyList(list, signing, recipient, nkey)
	out := make([]Key, len(list))
	copy(out, list)
	ids := make(map[string]bool, len(out))
	for i := range out {
		k := &out[i]
		var err error
		if k.signing, err = keys.ParseSigningPublicKey(k.SigningKey); err != nil {
			return nil, fmt.Errorf("%s: key %d: signing_key: %w", owner, i+1, err)
		}
		if k.recipient, err = keys.ParseAgeRecipient(k.AgeRecipient); err != nil {
			return nil, fmt.Errorf("%s: key %d: age_recipient: %w", owner, i+1, err)
		}
		want := KeyID(k.signing)
		if k.ID != want {
			return nil, fmt.Errorf("%s: key %d: id %q does not match its signing key, whose id is %q", owner, i+1, k.ID, want)
		}
		if ids[k.ID] {
			return nil, fmt.Errorf("%s: key %s appears twice", owner, k.ID)
		}
		ids[k.ID] = true
		if k.NotAfter != nil && !k.NotAfter.After(k.NotBefore) {
			return nil, fmt.Errorf("%s: key %s: not_after %s is not after not_before %s", owner, k.ID,
				k.NotAfter.Format(time.RFC3339), k.NotBefore.Format(time.RFC3339))
		}
		if k.RevokedAt == nil && k.RevokedReason != "" {
			return nil, fmt.Errorf("%s: key %s: revoked_reason without revoked_at", owner, k.ID)
		}
		if k.RevokedAt != nil && k.RevokedReason == "" {
			return nil, fmt.Errorf("%s: key %s: revoked_at without revoked_reason; say why it was revoked", owner, k.ID)
		}
	}
	return out, nil
}

// mirrors reports whether the single-key fields are empty, or list is
// empty, or they are those of a key in list.
func mirrors(list []Key, signing, recipient, nkey string) bool {
	if len(list) == 0 || (signing == "" && recipient == "" && nkey == "") {
		return true
	}
	for _, k := range list {
		if k.SigningKey == signing && k.AgeRecipient == recipient && k.NKey == nkey {
			return true
		}
	}
	return false
}

// keyList is list, with the single-key fields applied to it: the list
// itself if they mirror one of its keys, a one-key list if the list is
// empty, and otherwise a copy whose primary key takes their values (an
// edit made through them).
func keyList(list []Key, signing, recipient, nkey string) []Key {
	if mirrors(list, signing, recipient, nkey) && len(list) > 0 {
		return list
	}
	if signing == "" && recipient == "" && nkey == "" {
		return list
	}
	var k Key
	out := []Key{}
	if len(list) > 0 {
		out = append(out, list...)
		p := keyRing(out).primary(time.Now())
		for i := range out {
			if &out[i] == p {
				k = out[i]
				out = append(out[:i:i], out[i+1:]...)
				break
			}
		}
	}
	k.SigningKey, k.AgeRecipient, k.NKey = signing, recipient, nkey
	if pub, err := keys.ParseSigningPublicKey(signing); err == nil {
		k.ID = KeyID(pub)
	}
	return append(out, k)
}

// VerifyEnvelope checks that env was signed by one of the agency's keys and
// that the key spoke for the agency at t, and returns the key. A version 2
// envelope names its key; for version 1, the key that verifies it is the one
// whose validity counts, so a revoked key can't hide behind the older format.
//
// The signature is checked before the key's validity: an error wrapping
// ErrKeyRevoked always means the revoked key really signed. A signature that
// does not verify, or a key the directory does not know, is an error
// wrapping envelope.ErrBadSignature; a key not valid at t is a *KeyError.
func (a *Agency) VerifyEnvelope(env *envelope.Envelope, t time.Time) (*Key, error) {
	h := env.Header
	if h.From != a.ID {
		return nil, fmt.Errorf("%w: the envelope is from %q, not from %s", envelope.ErrBadSignature, h.From, a.ID)
	}
	kid := h.Kid
	if h.Version == 1 {
		for i := range a.Keys {
			if env.Verify(a.Keys[i].signing) == nil {
				kid = a.Keys[i].ID
				break
			}
		}
		if kid == "" {
			return nil, fmt.Errorf("%w: no key of %s verifies this version 1 envelope, or it was modified in transit", envelope.ErrBadSignature, a.ID)
		}
	} else {
		k, ok := a.Key(kid)
		if !ok {
			return nil, fmt.Errorf("%w: key %s is not one of %s's keys in the directory", envelope.ErrBadSignature, kid, a.ID)
		}
		if err := env.Verify(k.signing); err != nil {
			return nil, fmt.Errorf("%w (key %s)", err, kid)
		}
	}
	return a.KeyAt(kid, t)
}
