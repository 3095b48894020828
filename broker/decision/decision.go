// Package decision defines the broker's record of one decision and its signed
// form, the receipt.
//
// The same record is appended to the audit log, attached to a delivered
// envelope and sent to the sender as a receipt, so the three can always be
// matched field by field. A receipt is evidence an agency can keep and show a
// supervisor: it is signed by the broker and verifies with the broker's public
// key alone.
package decision

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outcomes.
const (
	Delivered = "delivered"
	Rejected  = "rejected"
	// KeyEvent marks a record that is not a decision on a message but a
	// change of a party's keys that the broker applied: Kind is one of
	// KindKeyAdded, KindKeyRevoked, KindKeyRemoved or KindDataKeyShredded,
	// Sender the agency id (or "broker"), KeyID the key.
	KeyEvent = "key_event"
)

// Kinds of KeyEvent records.
const (
	KindKeyAdded   = "key_added"
	KindKeyRevoked = "key_revoked"
	KindKeyRemoved = "key_removed"
	// KindDataKeyShredded records that the audit log's data key KeyID was
	// destroyed ("brokerctl audit shred"): the personal fields it sealed
	// are unreadable from then on.
	KindDataKeyShredded = "data_key_shredded"
)

// Record is everything the broker knows about one decision. It never holds the
// payload or the policy metadata in clear: only hashes of them.
type Record struct {
	DecisionID string    `json:"decision_id"`
	DecidedAt  time.Time `json:"decided_at"`
	// InboundSeq is the sequence of the message in the inbound stream; together
	// with the message id it tells a redelivery from a replay.
	InboundSeq uint64 `json:"inbound_seq"`
	MessageID  string `json:"message_id,omitempty"`
	Sender     string `json:"sender,omitempty"`
	Recipient  string `json:"recipient,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// CreatedAt is the message's own time, the time the law was applied at.
	CreatedAt *time.Time `json:"created_at,omitempty"`
	ReplyTo   string     `json:"reply_to,omitempty"`
	Category  string     `json:"category,omitempty"`

	Outcome     string   `json:"outcome"`
	Rule        string   `json:"rule,omitempty"`
	Basis       string   `json:"basis,omitempty"`
	Obligations []string `json:"obligations,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
	// ErrorCode is set when the message was rejected before or instead of a
	// policy decision: a malformed envelope, a bad signature, a replay, a
	// policy error (then the policy failed closed).
	ErrorCode string `json:"error_code,omitempty"`

	// KeyID is, in a KeyEvent record, the id of the key that changed.
	KeyID string `json:"key_id,omitempty"`

	PolicyRevision string `json:"policy_revision,omitempty"`
	InputSHA256    string `json:"input_sha256,omitempty"`
	EnvelopeSHA256 string `json:"envelope_sha256"`
}

// Allowed reports whether the message was delivered.
func (r *Record) Allowed() bool { return r.Outcome == Delivered }

// NewID returns a random 128-bit decision id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("decision: crypto/rand failed: " + err.Error()) // never returns an error on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// context separates receipt signatures from every other signature the broker makes.
const context = "sekretessbroker decision v1\x00"

// ErrBadSignature is returned when a receipt does not verify with the broker key.
var ErrBadSignature = errors.New("decision: receipt signature does not verify with the broker's key")

// Sign returns the record as compact JSON and the broker's base64 signature of it.
func Sign(key ed25519.PrivateKey, r *Record) (body []byte, sig string, err error) {
	body, err = json.Marshal(r)
	if err != nil {
		return nil, "", fmt.Errorf("decision: %w", err)
	}
	s := ed25519.Sign(key, append([]byte(context), body...))
	return body, base64.StdEncoding.EncodeToString(s), nil
}

// Verify checks a receipt's signature with the broker's public key and decodes it.
// The signature must be in canonical base64, so a receipt that verifies has
// exactly one text form.
func Verify(key ed25519.PublicKey, body []byte, sig string) (*Record, error) {
	// Strict: the lenient decoder ignores the unused low bits of the last
	// character, so several strings would decode to the same signature. Both
	// skip line breaks, which the length check rules out.
	s, err := base64.StdEncoding.Strict().DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize || len(sig) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, fmt.Errorf("%w: signature is not %d bytes of base64", ErrBadSignature, ed25519.SignatureSize)
	}
	if !ed25519.Verify(key, append([]byte(context), body...), s) {
		return nil, ErrBadSignature
	}
	var r Record
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decision: signed receipt does not decode: %w", err)
	}
	return &r, nil
}
