package envelope

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"
	"unicode/utf8"
)

// Header is the cleartext part of an envelope. The broker routes and applies
// policy on it; it is signed but not encrypted, so it must hold nothing
// confidential.
type Header struct {
	Version   int       `json:"v"`                  // format version, 1 or 2
	Kid       string    `json:"kid,omitempty"`      // version 2: id of the sender's signing key, like "k-0123456789abcdef"
	ID        string    `json:"id"`                 // random 128-bit id, 32 lowercase hex digits (see NewID)
	From      string    `json:"from"`               // sender agency id, like "polis-stockholm"
	To        string    `json:"to"`                 // recipient agency id
	Kind      string    `json:"kind"`               // message kind, like "request" or "concern_report"
	CreatedAt time.Time `json:"created_at"`         // creation time, UTC
	ReplyTo   string    `json:"reply_to,omitempty"` // id of the message this replies to, if any
}

var (
	idRE     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	agencyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	kindRE   = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)
	kidRE    = regexp.MustCompile(`^k-[0-9a-f]{16}$`)
)

// headerFields are the exact JSON keys of Header. encoding/json matches keys
// case-insensitively and lets a repeated key win silently; the strict check
// in decodeHeader uses this list to accept each key once, spelled exactly.
var headerFields = map[string]bool{
	"v": true, "kid": true, "id": true, "from": true, "to": true,
	"kind": true, "created_at": true, "reply_to": true,
}

// NewID returns a new random message id: 16 bytes from crypto/rand, as 32
// lowercase hex digits.
func NewID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; crashes the program if the kernel can't supply randomness
	return hex.EncodeToString(b[:])
}

// Validate reports whether h is a well-formed version 1 or 2 header: a
// version 2 header names its signing key in Kid, a version 1 header has
// none. The error wraps ErrMalformed and names the offending field.
func (h Header) Validate() error {
	switch h.Version {
	case 1:
		if h.Kid != "" {
			return fmt.Errorf("%w: header kid is set in a version 1 header; use v 2", ErrMalformed)
		}
	case 2:
		if !kidRE.MatchString(h.Kid) {
			return fmt.Errorf("%w: header kid %q is not a key id (\"k-\" and 16 lowercase hex digits, see directory.KeyID)", ErrMalformed, abbrev(h.Kid))
		}
	default:
		return fmt.Errorf("%w: header v is %d, want 1 or 2", ErrMalformed, h.Version)
	}
	if !idRE.MatchString(h.ID) {
		return fmt.Errorf("%w: header id %q is not 32 lowercase hex digits (use NewID)", ErrMalformed, abbrev(h.ID))
	}
	if !agencyRE.MatchString(h.From) {
		return fmt.Errorf("%w: header from %q is not an agency id (2-63 of a-z, 0-9, '-', not starting with '-')", ErrMalformed, abbrev(h.From))
	}
	if !agencyRE.MatchString(h.To) {
		return fmt.Errorf("%w: header to %q is not an agency id (2-63 of a-z, 0-9, '-', not starting with '-')", ErrMalformed, abbrev(h.To))
	}
	if !kindRE.MatchString(h.Kind) {
		return fmt.Errorf("%w: header kind %q is not a kind (1-32 of a-z and '_', starting with a letter)", ErrMalformed, abbrev(h.Kind))
	}
	if h.CreatedAt.IsZero() {
		return fmt.Errorf("%w: header created_at is not set", ErrMalformed)
	}
	if _, off := h.CreatedAt.Zone(); off != 0 {
		return fmt.Errorf("%w: header created_at %s is not in UTC", ErrMalformed, h.CreatedAt.Format(time.RFC3339))
	}
	if y := h.CreatedAt.Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: header created_at year %d is out of range", ErrMalformed, y)
	}
	if h.ReplyTo != "" && !idRE.MatchString(h.ReplyTo) {
		return fmt.Errorf("%w: header reply_to %q is not a message id (32 lowercase hex digits)", ErrMalformed, abbrev(h.ReplyTo))
	}
	return nil
}

// decodeHeader decodes and validates the header JSON. It is strict so that a
// header has one meaning for every reader: exactly one JSON object, only
// known keys spelled exactly, no key twice, no nulls.
func decodeHeader(b []byte) (Header, error) {
	var h Header
	if !utf8.Valid(b) {
		return h, fmt.Errorf("%w: header is not valid UTF-8", ErrMalformed)
	}
	if err := checkHeaderKeys(b); err != nil {
		return h, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return h, fmt.Errorf("%w: header JSON: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return h, fmt.Errorf("%w: header has data after the JSON object", ErrMalformed)
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	return h, nil
}

func checkHeaderKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: header JSON: %v", ErrMalformed, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	seen := make(map[string]bool, len(headerFields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: header JSON: %v", ErrMalformed, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: header JSON: key is not a string", ErrMalformed)
		}
		if !headerFields[key] {
			return fmt.Errorf("%w: header has unknown field %q", ErrMalformed, abbrev(key))
		}
		if seen[key] {
			return fmt.Errorf("%w: header has field %q twice", ErrMalformed, key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%w: header JSON: %v", ErrMalformed, err)
		}
		if string(v) == "null" {
			return fmt.Errorf("%w: header field %q is null", ErrMalformed, key)
		}
	}
	return nil
}

// abbrev shortens s for error messages: input may be long or hostile.
func abbrev(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
