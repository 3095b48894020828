// Package enroll lets an agency keep its own private keys. The agency
// generates them on its own machine and hands the broker's operator a
// request holding only the public halves; the operator verifies it and adds
// those to the directory. Private keys never leave the agency.
//
// A request proves possession: it is signed by the new signing key, so
// nobody can enrol a key they do not hold, or enrol someone else's key under
// their own name. A rotation request is also signed by the agency's current
// key, so only the agency itself can replace its keys. Revocation needs no
// request: the operator withdraws a key that has leaked.
package enroll

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Request types.
const (
	TypeEnroll = "enroll" // a new agency
	TypeRotate = "rotate" // a new key for an agency in the directory
)

// RequestFile is the name of the request inside a key directory written by
// Generate.
const RequestFile = "request.json"

// MaxRequestSize bounds a request file; a real one is under 2 KiB.
const MaxRequestSize = 16 << 10

// MaxFutureSkew is how far in the future a request's created_at may be.
const MaxFutureSkew = 5 * time.Minute

// Domain separators: a proof or endorsement can't be taken for an envelope,
// a receipt or anything else the same key signs, nor one for the other.
const (
	proofContext       = "sekretessbroker enrollment proof v1\x00"
	endorsementContext = "sekretessbroker enrollment endorsement v1\x00"
)

// Errors from Verify. Test for them with errors.Is.
var (
	ErrInvalid     = errors.New("enroll: invalid request")
	ErrBadProof    = errors.New("enroll: request not signed by its new key")
	ErrNotEndorsed = errors.New("enroll: rotation not signed by the agency's current key")
	ErrConflict    = errors.New("enroll: request conflicts with the directory")
)

// Facts are what the directory says about an agency. A rotation request
// needs only ID; the others, if given, must match the directory.
type Facts struct {
	ID       string `json:"id"`
	Kind     string `json:"kind,omitempty"`
	Operator string `json:"operator,omitempty"`
	Name     string `json:"name,omitempty"`
}

// PublicKeys are the public halves of one generation of an agency's keys.
type PublicKeys struct {
	ID           string `json:"id"`
	SigningKey   string `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	NKey         string `json:"nkey,omitempty"`
}

// Request asks for an agency, or a new key of one, to be put in the
// directory.
type Request struct {
	Type      string     `json:"type"`
	Agency    Facts      `json:"agency"`
	Key       PublicKeys `json:"key"`
	CreatedAt time.Time  `json:"created_at"`
	// Previous is, in a rotation, the id of the agency's current key that
	// signs Endorsement.
	Previous string `json:"previous,omitempty"`
	// Proof is the new signing key's base64 signature of the request.
	Proof string `json:"proof,omitempty"`
	// Endorsement is, in a rotation, the Previous key's signature.
	Endorsement string `json:"endorsement,omitempty"`
}

// signedBytes is what the proof and the endorsement sign: the request's
// JSON without them. Parse keeps exactly the fields Marshal writes, so the
// same request always gives the same bytes.
func (r *Request) signedBytes() ([]byte, error) {
	c := *r
	c.Proof, c.Endorsement = "", ""
	c.CreatedAt = c.CreatedAt.UTC()
	return json.Marshal(c)
}

// Sign sets the proof, made with key, the new signing key whose public half
// is r.Key.SigningKey, and for a rotation the endorsement, made with
// previous, the agency's current key.
func (r *Request) Sign(key, previous ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize || (previous != nil && len(previous) != ed25519.PrivateKeySize) {
		return errors.New("enroll: Sign needs ed25519 private keys")
	}
	body, err := r.signedBytes()
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	r.Proof = base64.StdEncoding.EncodeToString(ed25519.Sign(key, append([]byte(proofContext), body...)))
	r.Endorsement = ""
	if r.Type == TypeRotate {
		if previous == nil {
			return errors.New("enroll: a rotation must be signed by the agency's current key too")
		}
		r.Endorsement = base64.StdEncoding.EncodeToString(ed25519.Sign(previous, append([]byte(endorsementContext), body...)))
	}
	return nil
}

// Marshal encodes the request as indented JSON, for a file.
func (r *Request) Marshal() ([]byte, error) {
	r.CreatedAt = r.CreatedAt.UTC()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	return append(b, '\n'), nil
}

// Parse decodes a request strictly: one JSON object, no unknown fields,
// at most MaxRequestSize bytes. It does not verify it; see Verify.
func Parse(b []byte) (*Request, error) {
	if len(b) > MaxRequestSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalid, len(b), MaxRequestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Request
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	return &r, nil
}

// Load reads and parses the request file at path.
func Load(path string) (*Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxRequestSize+1))
	if err != nil {
		return nil, fmt.Errorf("enroll: %s: %w", path, err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Verify checks r against the directory d at time now: well-formed, signed
// by its new key, not conflicting with d and, for a rotation, signed by a key
// of the agency that is valid now.
func Verify(r *Request, d *directory.Directory, now time.Time) error {
	if err := r.checkForm(now); err != nil {
		return err
	}
	body, err := r.signedBytes()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	pub, _ := keys.ParseSigningPublicKey(r.Key.SigningKey) // checked by checkForm
	if !verifySig(pub, proofContext, body, r.Proof) {
		return fmt.Errorf("%w: the proof does not verify with key %s; the request was changed or not signed with its key", ErrBadProof, r.Key.ID)
	}
	a, exists := d.Lookup(r.Agency.ID)
	switch r.Type {
	case TypeEnroll:
		if exists {
			return fmt.Errorf("%w: agency %s is already in the directory; rotate its keys instead", ErrConflict, r.Agency.ID)
		}
		if r.Previous != "" || r.Endorsement != "" {
			return fmt.Errorf("%w: an enrollment has no previous key", ErrInvalid)
		}
	case TypeRotate:
		if !exists {
			return fmt.Errorf("%w: agency %s is not in the directory; enrol it first", ErrConflict, r.Agency.ID)
		}
		if r.Agency.Kind != "" && (r.Agency.Kind != a.Kind || r.Agency.Operator != a.Operator) ||
			r.Agency.Name != "" && r.Agency.Name != a.Name {
			return fmt.Errorf("%w: the request's facts about %s differ from the directory's; a rotation changes keys only", ErrConflict, a.ID)
		}
		prev, err := a.KeyAt(r.Previous, now)
		if err != nil {
			return fmt.Errorf("%w: previous key: %w", ErrNotEndorsed, err)
		}
		if !verifySig(prev.SigningPublicKey(), endorsementContext, body, r.Endorsement) {
			return fmt.Errorf("%w: the endorsement does not verify with key %s of %s", ErrNotEndorsed, r.Previous, a.ID)
		}
		if _, dup := a.Key(r.Key.ID); dup {
			return fmt.Errorf("%w: key %s is already one of %s's keys", ErrConflict, r.Key.ID, a.ID)
		}
	}
	// The directory's own rules (facts, unique nkeys) on the result.
	if _, err := apply(r, d, now); err != nil {
		return err
	}
	return nil
}

func (r *Request) checkForm(now time.Time) error {
	if r.Type != TypeEnroll && r.Type != TypeRotate {
		return fmt.Errorf("%w: type %q is not %q or %q", ErrInvalid, r.Type, TypeEnroll, TypeRotate)
	}
	if !directory.ValidID(r.Agency.ID) {
		return fmt.Errorf("%w: agency id %q is not a valid id", ErrInvalid, r.Agency.ID)
	}
	pub, err := keys.ParseSigningPublicKey(r.Key.SigningKey)
	if err != nil {
		return fmt.Errorf("%w: signing_key: %v", ErrInvalid, err)
	}
	if want := directory.KeyID(pub); r.Key.ID != want {
		return fmt.Errorf("%w: key id %q does not match the signing key, whose id is %q", ErrInvalid, r.Key.ID, want)
	}
	if _, err := keys.ParseAgeRecipient(r.Key.AgeRecipient); err != nil {
		return fmt.Errorf("%w: age_recipient: %v", ErrInvalid, err)
	}
	if r.Key.NKey != "" && !nkeys.IsValidPublicUserKey(r.Key.NKey) {
		return fmt.Errorf("%w: nkey %q is not a NATS user public key (\"U…\")", ErrInvalid, r.Key.NKey)
	}
	if r.CreatedAt.IsZero() {
		return fmt.Errorf("%w: created_at is not set", ErrInvalid)
	}
	if r.CreatedAt.After(now.Add(MaxFutureSkew)) {
		return fmt.Errorf("%w: created_at %s is in the future; check the clock of the machine that made it", ErrInvalid, r.CreatedAt.Format(time.RFC3339))
	}
	return nil
}

func verifySig(pub ed25519.PublicKey, context string, body []byte, sig string) bool {
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, append([]byte(context), body...), s)
}

// apply returns d with r's agency or key added, valid from now, after the
// directory's own validation.
func apply(r *Request, d *directory.Directory, now time.Time) (*directory.Directory, error) {
	k := directory.Key{ID: r.Key.ID, SigningKey: r.Key.SigningKey, AgeRecipient: r.Key.AgeRecipient, NKey: r.Key.NKey,
		NotBefore: now.UTC().Truncate(time.Second)}
	next := copyDirectory(d)
	for i := range next.Agencies {
		if r.Type == TypeRotate && next.Agencies[i].ID == r.Agency.ID {
			next.Agencies[i].Keys = append(next.Agencies[i].Keys, k)
		}
	}
	if r.Type == TypeEnroll {
		next.Agencies = append(next.Agencies, directory.Agency{ID: r.Agency.ID, Kind: r.Agency.Kind, Operator: r.Agency.Operator,
			Name: r.Agency.Name, Keys: []directory.Key{k}})
	}
	return reparse(next)
}

// reparse validates a directory built in Go the way a file is validated.
func reparse(d *directory.Directory) (*directory.Directory, error) {
	b, err := d.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	out, err := directory.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return out, nil
}

// Apply verifies r against the directory file at path and adds its public
// keys to it, valid from now. It returns the new directory.
func Apply(path string, r *Request, now time.Time) (*directory.Directory, error) {
	d, err := directory.Load(path)
	if err != nil {
		return nil, err
	}
	if err := Verify(r, d, now); err != nil {
		return nil, err
	}
	next, err := apply(r, d, now)
	if err != nil {
		return nil, err
	}
	if err := directory.Write(path, next); err != nil {
		return nil, err
	}
	return next, nil
}

// Revoke withdraws key kid of agency id in the directory d from now on,
// with reason, and returns the new directory. Envelopes signed with it and
// accepted from now on are refused with revoked_key, and its NATS user is
// removed when the broker reloads the directory.
func Revoke(d *directory.Directory, id, kid, reason string, now time.Time) (*directory.Directory, error) {
	if reason == "" {
		return nil, errors.New("enroll: say why the key is revoked; the reason is kept in the directory")
	}
	a, ok := d.Lookup(id)
	if !ok {
		return nil, fmt.Errorf("enroll: agency %s is not in the directory", id)
	}
	k, ok := a.Key(kid)
	if !ok {
		return nil, fmt.Errorf("enroll: %s has no key %s", id, kid)
	}
	if k.RevokedAt != nil {
		return nil, fmt.Errorf("enroll: key %s of %s was already revoked at %s", kid, id, k.RevokedAt.Format(time.RFC3339))
	}
	at := now.UTC()
	next := copyDirectory(d)
	for i := range next.Agencies {
		if next.Agencies[i].ID != id {
			continue
		}
		for j := range next.Agencies[i].Keys {
			if next.Agencies[i].Keys[j].ID == kid {
				next.Agencies[i].Keys[j].RevokedAt, next.Agencies[i].Keys[j].RevokedReason = &at, reason
			}
		}
	}
	return reparse(next)
}

// RevokeFile revokes a key in the directory file at path; see Revoke.
func RevokeFile(path, id, kid, reason string, now time.Time) (*directory.Directory, error) {
	d, err := directory.Load(path)
	if err != nil {
		return nil, err
	}
	next, err := Revoke(d, id, kid, reason, now)
	if err != nil {
		return nil, err
	}
	if err := directory.Write(path, next); err != nil {
		return nil, err
	}
	return next, nil
}

// Generate creates one generation of an agency's keys in dir, each file
// mode 0600 and never overwriting one: the ed25519 signing key, the age
// identity (hybrid post-quantum unless x25519) and the NATS nkey seed. It
// returns their public halves and the signing key, to sign the request.
func Generate(dir string, x25519 bool) (PublicKeys, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return PublicKeys{}, nil, fmt.Errorf("enroll: %w", err)
	}
	if err := keys.WriteSigningKey(filepath.Join(dir, keys.SigningKeyFile), priv); err != nil {
		return PublicKeys{}, nil, err
	}
	rcpt, err := keys.WriteAgeIdentity(filepath.Join(dir, keys.AgeKeyFile), !x25519)
	if err != nil {
		return PublicKeys{}, nil, err
	}
	nk, err := keys.WriteNKeySeed(filepath.Join(dir, keys.NKeyFile))
	if err != nil {
		return PublicKeys{}, nil, err
	}
	return PublicKeys{ID: directory.KeyID(pub), SigningKey: keys.FormatSigningPublicKey(pub), AgeRecipient: rcpt, NKey: nk}, priv, nil
}

// NewRequest generates keys in dir (see Generate) and writes the signed
// enrollment request for facts to dir/RequestFile. Facts the directory
// would refuse are refused before any key is written.
func NewRequest(dir string, facts Facts, x25519 bool, now time.Time) (*Request, error) {
	if err := directory.CheckFacts(facts.ID, facts.Kind, facts.Operator, facts.Name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := checkNewDir(dir); err != nil {
		return nil, err
	}
	pk, priv, err := Generate(dir, x25519)
	if err != nil {
		return nil, err
	}
	r := &Request{Type: TypeEnroll, Agency: facts, Key: pk, CreatedAt: now.UTC().Truncate(time.Second)}
	return r, write(dir, r, priv, nil)
}

// NewRotation generates new keys in newDir for agency id, whose current
// keys are in oldDir, and writes the rotation request, signed by both, to
// newDir/RequestFile.
func NewRotation(id, oldDir, newDir string, x25519 bool, now time.Time) (*Request, error) {
	prev, err := keys.LoadSigningKey(filepath.Join(oldDir, keys.SigningKeyFile))
	if err != nil {
		return nil, fmt.Errorf("enroll: the agency's current key: %w", err)
	}
	if err := checkNewDir(newDir); err != nil {
		return nil, err
	}
	pk, priv, err := Generate(newDir, x25519)
	if err != nil {
		return nil, err
	}
	r := &Request{Type: TypeRotate, Agency: Facts{ID: id}, Key: pk, CreatedAt: now.UTC().Truncate(time.Second),
		Previous: directory.KeyID(prev.Public().(ed25519.PublicKey))}
	return r, write(newDir, r, priv, prev)
}

func write(dir string, r *Request, key, previous ed25519.PrivateKey) error {
	if err := r.Sign(key, previous); err != nil {
		return err
	}
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	// Public, but written like the keys beside it: never over another file.
	if err := safefile.Create(filepath.Join(dir, RequestFile), b, 0o600); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	return nil
}

// checkNewDir refuses a directory that already holds keys, before any new
// key is written into it.
func checkNewDir(dir string) error {
	for _, f := range []string{keys.SigningKeyFile, keys.AgeKeyFile, keys.NKeyFile, RequestFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("enroll: %s already holds %s; give a new directory for new keys", dir, f)
		}
	}
	return nil
}

// AddBrokerKey returns d with pk added to the broker's keys, valid from now.
func AddBrokerKey(d *directory.Directory, pk PublicKeys, now time.Time) (*directory.Directory, error) {
	r := &Request{Type: TypeRotate, Key: pk, CreatedAt: now}
	r.Agency.ID = "broker"
	if err := r.checkForm(now); err != nil {
		return nil, err
	}
	if _, dup := d.Broker.Key(pk.ID); dup {
		return nil, fmt.Errorf("%w: key %s is already one of the broker's keys", ErrConflict, pk.ID)
	}
	next := copyDirectory(d)
	next.Broker.Keys = append(next.Broker.Keys, directory.Key{ID: pk.ID, SigningKey: pk.SigningKey, AgeRecipient: pk.AgeRecipient,
		NKey: pk.NKey, NotBefore: now.UTC().Truncate(time.Second)})
	return reparse(next)
}

// RevokeBrokerKey returns d with the broker's key kid revoked from now.
func RevokeBrokerKey(d *directory.Directory, kid, reason string, now time.Time) (*directory.Directory, error) {
	if reason == "" {
		return nil, errors.New("enroll: say why the key is revoked; the reason is kept in the directory")
	}
	k, ok := d.Broker.Key(kid)
	if !ok {
		return nil, fmt.Errorf("enroll: the broker has no key %s", kid)
	}
	if k.RevokedAt != nil {
		return nil, fmt.Errorf("enroll: key %s of the broker was already revoked at %s", kid, k.RevokedAt.Format(time.RFC3339))
	}
	at := now.UTC()
	next := copyDirectory(d)
	for i := range next.Broker.Keys {
		if next.Broker.Keys[i].ID == kid {
			next.Broker.Keys[i].RevokedAt, next.Broker.Keys[i].RevokedReason = &at, reason
		}
	}
	return reparse(next)
}

// copyDirectory returns a copy of d whose key lists may be changed, with
// the single-key fields cleared so that only the lists are written.
func copyDirectory(d *directory.Directory) *directory.Directory {
	next := &directory.Directory{Broker: directory.Broker{Keys: append([]directory.Key(nil), d.Broker.Keys...)},
		Agencies: make([]directory.Agency, 0, len(d.Agencies)), Auditors: append([]directory.Auditor(nil), d.Auditors...)}
	for _, a := range d.Agencies {
		a.SigningKey, a.AgeRecipient, a.NATS = "", "", directory.NATS{}
		a.Keys = append([]directory.Key(nil), a.Keys...)
		next.Agencies = append(next.Agencies, a)
	}
	return next
}
