package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// Record signatures. The broker signs every record it writes with its audit
// key, so that a record published on the audit subject by anyone else (a
// party that stole or was given publish rights) is told apart: the broker
// never acts on it, and Verify's callers report it (CheckRecordSignatures).
//
// The signature is the record's last JSON field, "broker_sig", so that it is
// inside the record's bytes and thus inside its Merkle leaf:
//
//	<record without broker_sig, minus its closing brace>,"broker_sig":"<name>+<hash>+<base64 signature>"}
//
// The signed message is recordSigContext followed by the record's bytes
// without the field (the JSON object as it was before the field was
// appended). <name> and <hash> name the audit key as in a note verifier key
// (the key history), so records signed before a key rotation still verify.
const (
	recordSigField   = `,"broker_sig":"`
	recordSigContext = "sekretessbroker audit record v1\x00"
)

// ErrUnsigned and ErrBadRecordSignature say why a record is not the broker's.
var (
	ErrUnsigned           = errors.New("audit: record carries no broker signature")
	ErrBadRecordSignature = errors.New("audit: record signature does not verify with the broker's audit keys")
)

// signRecord returns body (a JSON object) with the broker's signature
// appended as its last field.
func signRecord(s note.Signer, body []byte) ([]byte, error) {
	if len(body) < 2 || body[len(body)-1] != '}' {
		return nil, errors.New("audit: sign record: not a JSON object")
	}
	sig, err := s.Sign(append([]byte(recordSigContext), body...))
	if err != nil {
		return nil, fmt.Errorf("audit: sign record: %w", err)
	}
	v := s.Name() + "+" + fmt.Sprintf("%08x", s.KeyHash()) + "+" + base64.StdEncoding.EncodeToString(sig)
	out := make([]byte, 0, len(body)+len(recordSigField)+len(v)+2)
	out = append(out, body[:len(body)-1]...)
	if len(body) > 2 {
		out = append(out, recordSigField...)
	} else {
		out = append(out, recordSigField[1:]...) // "{}" has no field to follow
	}
	out = append(out, v...)
	return append(out, '"', '}'), nil
}

// splitRecordSig returns the signed body of data and its signature field,
// or ErrUnsigned.
func splitRecordSig(data []byte) (body []byte, name string, hash uint32, sig []byte, err error) {
	i := bytes.LastIndex(data, []byte(recordSigField))
	if i < 0 || !bytes.HasSuffix(data, []byte(`"}`)) {
		return nil, "", 0, nil, ErrUnsigned
	}
	v := string(data[i+len(recordSigField) : len(data)-2])
	// A base64 signature may contain '+', the name never does.
	parts := strings.SplitN(v, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 {
		return nil, "", 0, nil, fmt.Errorf("%w: malformed broker_sig", ErrBadRecordSignature)
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("%w: malformed broker_sig", ErrBadRecordSignature)
	}
	sig, err = base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, "", 0, nil, fmt.Errorf("%w: malformed broker_sig", ErrBadRecordSignature)
	}
	body = append(append([]byte(nil), data[:i]...), '}')
	return body, parts[0], uint32(h), sig, nil
}

// VerifyRecord checks that data, one record's bytes, is signed by one of
// the broker's audit keys (keys.AuditKeyHistory). It returns ErrUnsigned
// for a record without a signature (one written by someone else, or before
// records were signed) and ErrBadRecordSignature for a wrong one.
func VerifyRecord(data []byte, logKeys note.Verifiers) error {
	body, name, hash, sig, err := splitRecordSig(data)
	if err != nil {
		return err
	}
	v, err := logKeys.Verifier(name, hash)
	if err != nil {
		return fmt.Errorf("%w: signed by %s+%08x, a key not in the log's key history", ErrBadRecordSignature, name, hash)
	}
	if !v.Verify(append([]byte(recordSigContext), body...), sig) {
		return ErrBadRecordSignature
	}
	// The signed part carries no signature field of its own, so that a
	// record has one reading. (Inside a JSON string the quotes would be
	// escaped, so this finds keys only.)
	if bytes.Contains(body, []byte(recordSigField[1:])) {
		return fmt.Errorf("%w: the signed part carries a second signature", ErrBadRecordSignature)
	}
	return nil
}

// signerVerifiers checks signatures of the key a note.Signer holds, which
// has no public half to give: ed25519 signatures are deterministic, so a
// signature of the same message by the same key is the same bytes.
type signerVerifiers struct {
	s    note.Signer
	more note.Verifiers // may be nil
}

func (sv signerVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	if name == sv.s.Name() && hash == sv.s.KeyHash() {
		return resigner{sv.s}, nil
	}
	if sv.more == nil {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	return sv.more.Verifier(name, hash)
}

type resigner struct{ s note.Signer }

func (r resigner) Name() string    { return r.s.Name() }
func (r resigner) KeyHash() uint32 { return r.s.KeyHash() }
func (r resigner) Verify(msg, sig []byte) bool {
	again, err := r.s.Sign(msg)
	return err == nil && bytes.Equal(again, sig)
}

// BadRecord is a record that is not signed by the broker.
type BadRecord struct {
	// Position is the record's 1-based place in the log.
	Position int64
	Err      error
}

// CheckRecordSignatures returns every record of ex that the broker did not
// sign with a key of logKeys. Unsigned records before ex.SignedFrom (or,
// when that is not known, before the first signed record) were written
// before records were signed, and are counted in legacy; every other
// unsigned or mis-signed record is in bad.
func CheckRecordSignatures(ex *Export, logKeys note.Verifiers) (bad []BadRecord, legacy int64) {
	from := ex.SignedFrom
	for i, r := range ex.Records {
		pos := int64(i) + 1
		err := VerifyRecord(r.Data, logKeys)
		switch {
		case err == nil:
			if from == 0 {
				from = pos
			}
		case errors.Is(err, ErrUnsigned) && (from == 0 || pos < from):
			legacy++
		default:
			bad = append(bad, BadRecord{Position: pos, Err: err})
		}
	}
	return bad, legacy
}

// signedFromKey is the audit stream's metadata entry that says from which
// sequence on every record is signed: 1 for a log made since records are
// signed, the next sequence at the time for an older log, when the first
// broker that signs sets it up.
const signedFromKey = "sekretess_signed_from"

// signedFromMetadata returns the audit stream's metadata for Setup: the
// stream's own, with signedFromKey set if it was not.
func signedFromMetadata(ctx context.Context, js jetstream.JetStream) (map[string]string, error) {
	s, err := js.Stream(ctx, bus.StreamAudit)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return map[string]string{signedFromKey: "1"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", bus.StreamAudit, err)
	}
	info := s.CachedInfo()
	md := map[string]string{}
	for k, v := range info.Config.Metadata {
		// The server keeps its own entries itself.
		if !strings.HasPrefix(k, "_nats") {
			md[k] = v
		}
	}
	if _, ok := md[signedFromKey]; !ok {
		md[signedFromKey] = strconv.FormatUint(info.State.LastSeq+1, 10)
	}
	return md, nil
}

// signedFrom reads signedFromKey of the audit stream's info; a stream
// without it (never set up by a broker that signs) has every record signed
// from 1 on, which refuses unsigned records rather than trusting them.
func signedFrom(info *jetstream.StreamInfo) uint64 {
	if info != nil {
		if n, err := strconv.ParseUint(info.Config.Metadata[signedFromKey], 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 1
}
