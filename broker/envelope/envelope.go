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
	"slices"
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
	magic         = "SKB"
	version1      = 0x01
	version2      = 0x02
	maxHeaderSize = 4096
	// labelSize is the length of every version's signature label.
	labelSize = len("sekretessbroker envelope v1\x00")
	// fixedSize is everything except the header, meta and payload bytes.
	fixedSize = len(magic) + 1 + 2 + 4 + 4 + ed25519.SignatureSize
)

// signatureLabel is the context string signatures of version v are made
// under: a version 1 signature can never pass for a version 2 one.
func signatureLabel(v byte) string {
	if v == version1 {
		return "sekretessbroker envelope v1\x00"
	}
	return "sekretessbroker envelope v2\x00"
}

// Envelope is a parsed envelope. Meta, Payload and Signature share memory
// with Raw and must not be modified. Verify records its success in the
// Envelope, so it must not run concurrently with other methods.
type Envelope struct {
	Header    Header
	Meta      []byte // age ciphertext to the broker
	Payload   []byte // age ciphertext to the recipient
	Signature []byte // ed25519 signature by Header.From

	// raw is the exact bytes parsed, for hashing and forwarding unchanged.
	// It is preceded in the same array by its signatureLabel, so that Verify can
	// check the signature without copying up to a megabyte.
	raw []byte
	buf []byte

	verified bool
}

// Seal builds a signed envelope for one broker and one recipient key; see
// SealTo, which it calls.
func Seal(h Header, meta []byte, broker age.Recipient, payload []byte, recipient age.Recipient, signer ed25519.PrivateKey) ([]byte, error) {
	return SealTo(h, meta, []age.Recipient{broker}, payload, []age.Recipient{recipient}, signer)
}

// SealTo builds a signed envelope.
//
// meta is the policy metadata (JSON), encrypted to every key in brokers so
// that the broker can decide whether the message is allowed. payload is the
// message itself, encrypted to every key in recipients, all of them the
// recipient agency's: the broker cannot read it. Several keys are for a
// party that is rotating its keys (directory CurrentRecipients): it can read
// the message with the old key or the new one. The whole envelope is
// signed with signer, the private key of the agency in h.From whose id is
// h.Kid.
//
// h.Version may be left zero and is then set to 2 if h.Kid is set and 1
// otherwise. h.CreatedAt is converted to UTC. Other header fields must
// already be valid; see Header.Validate.
//
// SealTo does not enforce DefaultMaxSize: the limit belongs to the receiver
// and is applied by Parse.
func SealTo(h Header, meta []byte, brokers []age.Recipient, payload []byte, recipients []age.Recipient, signer ed25519.PrivateKey) ([]byte, error) {
	if h.Version == 0 {
		h.Version = 1
		if h.Kid != "" {
			h.Version = 2
		}
	}
	h.CreatedAt = h.CreatedAt.UTC()
	if err := h.Validate(); err != nil {
		return nil, err
	}
	if len(brokers) == 0 || slices.Contains(brokers, nil) {
		return nil, errors.New("envelope: Seal: a broker recipient is missing; pass the broker's current age recipients from the directory")
	}
	if len(recipients) == 0 || slices.Contains(recipients, nil) {
		return nil, errors.New("envelope: Seal: a recipient key is missing; pass the recipient agency's current age recipients from the directory")
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
	metaCT, err := encrypt(meta, brokers)
	if err != nil {
		return nil, fmt.Errorf("envelope: Seal: encrypting meta to the broker: %v", err)
	}
	payloadCT, err := encrypt(payload, recipients)
	if err != nil {
		return nil, fmt.Errorf("envelope: Seal: encrypting payload to the recipient: %v", err)
	}
	if len(metaCT) > math.MaxUint32 || len(payloadCT) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: meta or payload exceeds 4 GiB", ErrTooLarge)
	}

	label := signatureLabel(byte(h.Version))
	n := len(label) + fixedSize + len(hdr) + len(metaCT) + len(payloadCT)
	buf := make([]byte, 0, n)
	buf = append(buf, label...)
	buf = append(buf, magic...)
	buf = append(buf, byte(h.Version))
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(hdr)))
	buf = append(buf, hdr...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(metaCT)))
	buf = append(buf, metaCT...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(payloadCT)))
	buf = append(buf, payloadCT...)
	buf = append(buf, ed25519.Sign(signer, buf)...)
	return buf[len(label):], nil
}

func encrypt(plaintext []byte, rs []age.Recipient) ([]byte, error) {
	var out bytes.Buffer
	w, err := age.Encrypt(&out, rs...)
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
	v := b[len(magic)]
	if v != version1 && v != version2 {
		return nil, fmt.Errorf("%w: version byte %#02x, this build reads versions 1 and 2", ErrUnknownVersion, v)
	}

	// Copy b behind the signature label, for Verify.
	buf := make([]byte, 0, labelSize+len(b))
	buf = append(buf, signatureLabel(v)...)
	buf = append(buf, b...)
	e := &Envelope{raw: buf[labelSize:], buf: buf}
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
	if e.Header.Version != int(v) {
		return nil, fmt.Errorf("%w: header v is %d in a version %d envelope", ErrMalformed, e.Header.Version, v)
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

// Verify checks the signature against pub, a public signing key of the
// agency named in Header.From: in version 2 the one named by Header.Kid. It
// returns an error wrapping ErrBadSignature if the envelope was not signed by
// that key or was modified after signing. Which key to use, and whether it
// was valid when the message was sent, is the caller's to decide from the
// directory.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("envelope: Verify: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(e.raw) < fixedSize || len(e.buf) != labelSize+len(e.raw) {
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

// VouchedFor accepts the signature on another party's word: sum is the
// SHA-256 (as Hash gives it) that a statement the caller has verified names
// for this envelope, such as the broker's signed decision, made after the
// broker verified the sender's signature. It lets a recipient read a message
// whose sender's keys it no longer has. It returns an error wrapping
// ErrBadSignature if sum does not name these exact bytes.
func (e *Envelope) VouchedFor(sum string) error {
	if len(e.raw) < fixedSize || len(e.buf) != labelSize+len(e.raw) {
		return fmt.Errorf("%w: envelope was not produced by Parse", ErrBadSignature)
	}
	if sum != Hash(e.raw) {
		return fmt.Errorf("%w: the statement vouching for it names other bytes", ErrBadSignature)
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

// OpenMeta decrypts the policy metadata with any of the broker's
// identities (more than one while the broker rotates its age key).
//
// It returns an error wrapping ErrWrongKey if the metadata was not encrypted
// to any of ids, and ErrMalformed if the ciphertext is corrupt. Verify must
// have succeeded first: anyone can encrypt to the broker, so unsigned
// metadata says nothing about who sent it.
func (e *Envelope) OpenMeta(ids ...age.Identity) ([]byte, error) {
	return e.open(e.Meta, "meta", ids)
}

// OpenPayload decrypts the payload with any of the recipient agency's
// identities.
//
// It returns an error wrapping ErrWrongKey if the payload was not encrypted
// to any of ids, and ErrMalformed if the ciphertext is corrupt. Verify must
// have succeeded first.
func (e *Envelope) OpenPayload(ids ...age.Identity) ([]byte, error) {
	return e.open(e.Payload, "payload", ids)
}

func (e *Envelope) open(ct []byte, what string, ids []age.Identity) ([]byte, error) {
	if !e.verified {
		return nil, fmt.Errorf("%w: call Verify with the sender's key before opening the %s", ErrBadSignature, what)
	}
	if len(ids) == 0 || slices.Contains(ids, nil) {
		return nil, fmt.Errorf("envelope: opening %s: identity is nil", what)
	}
	// DecryptReaderAt rather than Decrypt: the plaintext's size is known
	// before it is read, so it is read into one buffer of that size, and
	// age allocates one chunk buffer instead of two (64 KiB each, for a
	// section of usually 1 KiB). Every chunk is still authenticated, the
	// last one first.
	r, size, err := age.DecryptReaderAt(bytes.NewReader(ct), int64(len(ct)), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w: %s is not encrypted to this identity (it is for a different key or key type)", ErrWrongKey, what)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	// age plaintext is always shorter than its ciphertext, so this bound
	// never refuses a valid section; it only stops a broken size early.
	if size < 0 || size > int64(len(ct)) {
		return nil, fmt.Errorf("%w: %s: plaintext of %d bytes in %d bytes of ciphertext", ErrMalformed, what, size, len(ct))
	}
	out := make([]byte, size)
	if n, err := r.ReadAt(out, 0); n != len(out) || (err != nil && !errors.Is(err, io.EOF)) {
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
