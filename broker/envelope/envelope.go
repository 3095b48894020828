package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// DefaultMaxSize is the size limit, in bytes, of a whole envelope when Parse
// is given no other limit.
const DefaultMaxSize = 1 << 20

// Errors returned by this package. They are wrapped with context; test for
// them with errors.Is, and use Code to report them.
var (
	ErrTooLarge       = errors.New("envelope: too large")
	ErrMalformed      = errors.New("envelope: malformed")
	ErrTruncated      = errors.New("envelope: truncated")
	ErrTrailingData   = errors.New("envelope: trailing data after signature")
	ErrUnknownVersion = errors.New("envelope: unknown version")
	ErrBadSignature   = errors.New("envelope: signature does not verify")
	ErrClockSkew      = errors.New("envelope: created_at outside the accepted clock window")
	ErrWrongKey       = errors.New("envelope: no matching age identity")
)

const (
	magic          = "SKB"
	version1       = 0x01
	maxHeaderSize  = 4096
	signatureLabel = "sekretessbroker envelope v1\x00"
	// fixedSize is everything except the header, meta and payload bytes.
	fixedSize = len(magic) + 1 + 2 + 4 + 4 + ed25519.SignatureSize
)

// Envelope is a parsed envelope. Meta, Payload and Signature share memory
// with Raw and must not be modified. Verify records its success in the
// Envelope, so it must not run concurrently with other methods.
type Envelope struct {
	Header    Header
	Meta      []byte // age ciphertext to the broker
	Payload   []byte // age ciphertext to the recipient
	Signature []byte // ed25519 signature by Header.From

	// raw is the exact bytes parsed, for hashing and forwarding unchanged.
	// It is preceded in the same array by signatureLabel, so that Verify can
	// check the signature without copying up to a megabyte.
	raw []byte
	buf []byte

	verified bool
}

// Seal builds a signed envelope.
//
// meta is the policy metadata (JSON), encrypted to broker so that the broker
// can decide whether the message is allowed. payload is the message itself,
// encrypted only to recipient: the broker cannot read it. The whole envelope
// is signed with signer, the private key of the agency in h.From.
//
// h.Version may be left zero and is then set to 1. h.CreatedAt is converted
// to UTC. Other header fields must already be valid; see Header.Validate.
//
// Seal does not enforce DefaultMaxSize: the limit belongs to the receiver
// and is applied by Parse.
func Seal(h Header, meta []byte, broker age.Recipient, payload []byte, recipient age.Recipient, signer ed25519.PrivateKey) ([]byte, error) {
	if h.Version == 0 {
		h.Version = 1
	}
	h.CreatedAt = h.CreatedAt.UTC()
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if broker == nil {
		return nil, errors.New("envelope: Seal: broker recipient is nil; pass the broker's age recipient from the directory")
	}
	if recipient == nil {
		return nil, errors.New("envelope: Seal: recipient is nil; pass the recipient agency's age recipient from the directory")
	}
	if len(signer) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("envelope: Seal: signer is %d bytes, want a %d-byte ed25519 private key", len(signer), ed25519.PrivateKeySize)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding header: %v", ErrMalformed, err)
	}
	if len(hdr) > maxHeaderSize {
		return nil, fmt.Errorf("%w: header is %d bytes, limit %d", ErrMalformed, len(hdr), maxHeaderSize)
	}
	metaCT, err := encrypt(meta, broker)
	if err != nil {
		return nil, fmt.Errorf("envelope: Seal: encrypting meta to the broker: %v", err)
	}
	payloadCT, err := encrypt(payload, recipient)
	if err != nil {
		return nil, fmt.Errorf("envelope: Seal: encrypting payload to the recipient: %v", err)
	}
	if len(metaCT) > math.MaxUint32 || len(payloadCT) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: meta or payload exceeds 4 GiB", ErrTooLarge)
	}

	n := len(signatureLabel) + fixedSize + len(hdr) + len(metaCT) + len(payloadCT)
	buf := make([]byte, 0, n)
	buf = append(buf, signatureLabel...)
	buf = append(buf, magic...)
	buf = append(buf, version1)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(hdr)))
	buf = append(buf, hdr...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(metaCT)))
	buf = append(buf, metaCT...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payloadCT)))
	buf = append(buf, payloadCT...)
	buf = append(buf, ed25519.Sign(signer, buf)...)
	return buf[len(signatureLabel):], nil
}

func encrypt(plaintext []byte, r age.Recipient) ([]byte, error) {
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Parse checks the structure of an envelope: size limit, magic, version,
// section lengths, header validity and the absence of trailing data. A
// maxSize of zero or less means DefaultMaxSize.
//
// Parse does not verify the signature, because the verifying key depends on
// the claimed sender: look up Header.From and call Verify. Parse does not
// retain b.
func Parse(b []byte, maxSize int) (*Envelope, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(b) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), maxSize)
	}
	if !bytes.HasPrefix([]byte(magic), b[:min(len(b), len(magic))]) {
		return nil, fmt.Errorf("%w: does not start with %q; not an envelope", ErrMalformed, magic)
	}
	if len(b) < len(magic)+1 {
		return nil, fmt.Errorf("%w: %d bytes, too short for the magic and version", ErrTruncated, len(b))
	}
	if v := b[len(magic)]; v != version1 {
		return nil, fmt.Errorf("%w: version byte %#02x, this build reads version 1 only", ErrUnknownVersion, v)
	}

	// Copy b behind the signature label, for Verify.
	buf := make([]byte, 0, len(signatureLabel)+len(b))
	buf = append(buf, signatureLabel...)
	buf = append(buf, b...)
	e := &Envelope{raw: buf[len(signatureLabel):], buf: buf}
	r := reader{b: e.raw, off: len(magic) + 1}

	hlen, err := r.uint16("header length")
	if err != nil {
		return nil, err
	}
	if hlen == 0 || hlen > maxHeaderSize {
		return nil, fmt.Errorf("%w: header length %d, want 1 to %d", ErrMalformed, hlen, maxHeaderSize)
	}
	hdr, err := r.bytes(int(hlen), "header", maxSize)
	if err != nil {
		return nil, err
	}
	if e.Header, err = decodeHeader(hdr); err != nil {
		return nil, err
	}

	if e.Meta, err = r.section("meta", maxSize); err != nil {
		return nil, err
	}
	if e.Payload, err = r.section("payload", maxSize); err != nil {
		return nil, err
	}
	if e.Signature, err = r.bytes(ed25519.SignatureSize, "signature", maxSize); err != nil {
		return nil, err
	}
	if r.off != len(r.b) {
		return nil, fmt.Errorf("%w: %d bytes", ErrTrailingData, len(r.b)-r.off)
	}
	return e, nil
}

// reader reads the length-prefixed sections of an envelope.
type reader struct {
	b   []byte
	off int
}

func (r *reader) uint16(what string) (uint16, error) {
	if len(r.b)-r.off < 2 {
		return 0, fmt.Errorf("%w: ends inside the %s", ErrTruncated, what)
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

// section reads a u32 length and that many bytes.
func (r *reader) section(what string, maxSize int) ([]byte, error) {
	if len(r.b)-r.off < 4 {
		return nil, fmt.Errorf("%w: ends inside the %s length", ErrTruncated, what)
	}
	n := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	if n == 0 {
		return nil, fmt.Errorf("%w: %s is empty; it must be an age ciphertext", ErrMalformed, what)
	}
	// Compare in uint64: n may not fit in an int on 32-bit platforms.
	if uint64(r.off)+uint64(n) > uint64(maxSize) {
		return nil, fmt.Errorf("%w: %s length %d does not fit in the %d-byte limit", ErrTooLarge, what, n, maxSize)
	}
	return r.bytes(int(n), what, maxSize)
}

func (r *reader) bytes(n int, what string, maxSize int) ([]byte, error) {
	if len(r.b)-r.off < n {
		return nil, fmt.Errorf("%w: %s needs %d bytes, %d left", ErrTruncated, what, n, len(r.b)-r.off)
	}
	// Cap the capacity so that appending to a section can't overwrite the
	// next one.
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

// Raw returns the exact bytes that were parsed, for hashing, storing and
// forwarding unchanged. It must not be modified.
func (e *Envelope) Raw() []byte {
	return e.raw
}

// Verify checks the signature against pub, the public signing key of the
// agency named in Header.From. It returns an error wrapping ErrBadSignature if
// the envelope was not signed by that key or was modified after signing.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("envelope: Verify: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(e.raw) < fixedSize || len(e.buf) != len(signatureLabel)+len(e.raw) {
		return fmt.Errorf("%w: envelope was not produced by Parse", ErrBadSignature)
	}
	signed := e.buf[:len(e.buf)-ed25519.SignatureSize]
	sig := e.buf[len(e.buf)-ed25519.SignatureSize:]
	if !ed25519.Verify(pub, signed, sig) {
		return fmt.Errorf("%w: not signed by the key of %q, or modified in transit", ErrBadSignature, e.Header.From)
	}
	e.verified = true
	return nil
}

// CheckTime reports an error wrapping ErrClockSkew if Header.CreatedAt is
// more than skew away from now, in either direction. This bounds how long a
// captured envelope can be replayed; deduplication by Header.ID covers the
// window itself.
func (e *Envelope) CheckTime(now time.Time, skew time.Duration) error {
	skew = max(skew, 0)
	// Subtract both ways instead of negating: Sub saturates, and negating
	// the most negative Duration overflows back to itself.
	if ahead := e.Header.CreatedAt.Sub(now); ahead > skew {
		return fmt.Errorf("%w: created_at is %v in the future (accepted: %v); check the sender's clock", ErrClockSkew, ahead, skew)
	}
	if behind := now.Sub(e.Header.CreatedAt); behind > skew {
		return fmt.Errorf("%w: created_at is %v in the past (accepted: %v); check the sender's clock, or the message was delayed or replayed", ErrClockSkew, behind, skew)
	}
	return nil
}

// OpenMeta decrypts the policy metadata with the broker's identity.
//
// It returns an error wrapping ErrWrongKey if the metadata was not encrypted
// to id, and ErrMalformed if the ciphertext is corrupt. Verify must have
// succeeded first: anyone can encrypt to the broker, so unsigned metadata
// says nothing about who sent it.
func (e *Envelope) OpenMeta(id age.Identity) ([]byte, error) {
	return e.open(e.Meta, "meta", id)
}

// OpenPayload decrypts the payload with the recipient agency's identity.
//
// It returns an error wrapping ErrWrongKey if the payload was not encrypted
// to id, and ErrMalformed if the ciphertext is corrupt. Verify must have
// succeeded first.
func (e *Envelope) OpenPayload(id age.Identity) ([]byte, error) {
	return e.open(e.Payload, "payload", id)
}

func (e *Envelope) open(ct []byte, what string, id age.Identity) ([]byte, error) {
	if !e.verified {
		return nil, fmt.Errorf("%w: call Verify with the sender's key before opening the %s", ErrBadSignature, what)
	}
	if id == nil {
		return nil, fmt.Errorf("envelope: opening %s: identity is nil", what)
	}
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w: %s is not encrypted to this identity (it is for a different key or key type)", ErrWrongKey, what)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	// age plaintext is always shorter than its ciphertext, so this bound
	// never cuts a valid message; it only stops a broken reader early.
	out, err := io.ReadAll(io.LimitReader(r, int64(len(ct))))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return out, nil
}

// Code returns the stable machine-readable code of an error from this
// package, for receipts and the audit log: one of errcode.TooLarge,
// Malformed, Truncated, TrailingData, UnknownVersion, BadSignature, ClockSkew
// or WrongKey. It returns "" for nil and errcode.Internal for any other error.
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooLarge):
		return errcode.TooLarge
	case errors.Is(err, ErrMalformed):
		return errcode.Malformed
	case errors.Is(err, ErrTruncated):
		return errcode.Truncated
	case errors.Is(err, ErrTrailingData):
		return errcode.TrailingData
	case errors.Is(err, ErrUnknownVersion):
		return errcode.UnknownVersion
	case errors.Is(err, ErrBadSignature):
		return errcode.BadSignature
	case errors.Is(err, ErrClockSkew):
		return errcode.ClockSkew
	case errors.Is(err, ErrWrongKey):
		return errcode.WrongKey
	}
	return errcode.Internal
}
