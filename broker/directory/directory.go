// Package directory holds the broker's list of agencies: who they are, what kind of
// body they are in law, and which keys speak for them.
//
// The directory is the only source of facts about the parties that the policy sees.
// A sender may claim anything inside its encrypted metadata; whether it is the police,
// a municipal school or an independent one is decided here.
//
// Each party holds a list of keys, so that it can rotate them without
// losing a message and revoke one that leaked: see Key, Agency.KeyAt and
// Agency.CurrentRecipients.
package directory

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Agency kinds known to the law the policies encode.
const (
	KindPolice         = "police" // Polismyndigheten
	KindSchool         = "school"
	KindSocialServices = "social_services"
	// KindSecurityPolice is Säkerhetspolisen, an authority of its own that
	// some secrecy-breaking provisions name beside Polismyndigheten (e.g.
	// OSL 10 kap. 18 a § from 2025-04-01).
	KindSecurityPolice = "security_police"
	// KindCustoms is Tullverket, named by OSL 10 kap. 18 a § from 2025-04-01.
	KindCustoms = "customs"
)

// Kinds returns every agency kind the directory accepts.
func Kinds() []string {
	return []string{KindPolice, KindSecurityPolice, KindCustoms, KindSchool, KindSocialServices}
}

// School operators (huvudman).
const (
	OperatorMunicipal   = "municipal"
	OperatorIndependent = "independent"
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ValidID reports whether s is a well-formed agency id. Ids are NATS subject tokens,
// so they must never contain '.', '*' or '>'.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// NATS holds an agency's NATS identity.
type NATS struct {
	// NKey is the agency's NATS user public key ("U…"); empty when the deployment
	// authenticates agencies by other means (an external NATS cluster).
	NKey string `json:"nkey,omitempty"`
}

// Agency is one party in the directory.
//
// Its keys are in Keys. SigningKey, AgeRecipient and NATS are the older
// single-key form: a file that has them instead of keys is read as one key
// valid since always. After parsing they mirror the primary key (the newest
// one not revoked), for callers that know of one key only; changing them
// changes that key. Marshal writes Keys alone.
type Agency struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Operator     string `json:"operator,omitempty"`
	Name         string `json:"name"`
	SigningKey   string `json:"signing_key,omitempty"`
	AgeRecipient string `json:"age_recipient,omitempty"`
	NATS         NATS   `json:"nats,omitempty"`
	Keys         []Key  `json:"keys,omitempty"`

	signing   ed25519.PublicKey
	recipient age.Recipient
}

// Authority reports whether the agency is a public authority (myndighet). An
// independent school is not one, which is why OSL 10:27 and 10:15 a do not
// apply to it.
func (a *Agency) Authority() bool {
	return !(a.Kind == KindSchool && a.Operator == OperatorIndependent)
}

// SigningPublicKey returns the signing key of the agency's primary key. A
// verifier must use KeyAt instead: an envelope names the key it was signed with.
func (a *Agency) SigningPublicKey() ed25519.PublicKey { return a.signing }

// Recipient returns the age recipient of the agency's primary key. A sender
// must use CurrentRecipients instead, so that a rotating agency can read
// with either key.
func (a *Agency) Recipient() age.Recipient { return a.recipient }

// KeyAt returns the agency's key kid if it speaks for the agency at t. The
// error is a *KeyError wrapping ErrUnknownKey, ErrKeyNotYetValid,
// ErrKeyExpired or ErrKeyRevoked.
func (a *Agency) KeyAt(kid string, t time.Time) (*Key, error) {
	return keyRing(a.Keys).at(a.ID, kid, t)
}

// Key returns the agency's key kid, whatever its validity: use KeyAt to
// learn whether it speaks for the agency at a given time.
func (a *Agency) Key(kid string) (*Key, bool) { return keyRing(a.Keys).find(kid) }

// CurrentRecipients returns the age recipients of every key valid at t:
// a payload sealed to all of them can be read whichever key the agency
// has moved to. If those keys mix hybrid post-quantum and X25519
// recipients, only the hybrid ones are returned (age seals a file to one
// kind only).
func (a *Agency) CurrentRecipients(t time.Time) []age.Recipient {
	return keyRing(a.Keys).recipients(t)
}

// NKeysAt returns the NATS user keys the agency may log in with at t: those
// of keys neither revoked nor expired at t.
func (a *Agency) NKeysAt(t time.Time) []string { return keyRing(a.Keys).nkeys(t) }

// Facts returns the agency as the policy input's sender or recipient object.
func (a *Agency) Facts() map[string]any {
	f := map[string]any{
		"id":        a.ID,
		"kind":      a.Kind,
		"authority": a.Authority(),
		"name":      a.Name,
	}
	if a.Operator != "" {
		f["operator"] = a.Operator
	}
	return f
}

// CheckFacts reports whether the directory accepts an agency with these
// facts, keys aside: a valid id, a known kind, an operator for schools
// only, a name. Tools call it before they write any key file.
func CheckFacts(id, kind, operator, name string) error {
	if !ValidID(id) {
		return fmt.Errorf("agency id %q: use 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit", id)
	}
	switch kind {
	case KindPolice, KindSecurityPolice, KindCustoms, KindSocialServices:
		if operator != "" {
			return fmt.Errorf("agency %s: operator is only for schools", id)
		}
	case KindSchool:
		if operator != OperatorMunicipal && operator != OperatorIndependent {
			return fmt.Errorf("agency %s: a school needs operator %q or %q", id, OperatorMunicipal, OperatorIndependent)
		}
	default:
		return fmt.Errorf("agency %s: kind %q is not one of %s", id, kind, strings.Join(Kinds(), ", "))
	}
	if name == "" {
		return fmt.Errorf("agency %s: name is empty", id)
	}
	return nil
}

func (a *Agency) validate() error {
	if err := CheckFacts(a.ID, a.Kind, a.Operator, a.Name); err != nil {
		return err
	}
	list, err := normalize("agency "+a.ID, a.Keys, a.SigningKey, a.AgeRecipient, a.NATS.NKey)
	if err != nil {
		return err
	}
	a.Keys = list
	p := keyRing(a.Keys).primary(time.Now())
	a.SigningKey, a.AgeRecipient, a.NATS.NKey = p.SigningKey, p.AgeRecipient, p.NKey
	a.signing, a.recipient = p.signing, p.recipient
	return nil
}

// Broker is the broker's own public identity, which agencies need to encrypt
// policy metadata to it and to verify its receipts. Its keys rotate like an
// agency's; the single-key fields are read and mirrored the same way (see
// Agency).
type Broker struct {
	SigningKey   string `json:"signing_key,omitempty"`
	AgeRecipient string `json:"age_recipient,omitempty"`
	NATS         NATS   `json:"nats,omitempty"`
	Keys         []Key  `json:"keys,omitempty"`

	signing   ed25519.PublicKey
	recipient age.Recipient
}

// SigningPublicKey returns the signing key of the broker's primary key. A
// receipt verifier should use KeyAt or VerifyingKeys.
func (b *Broker) SigningPublicKey() ed25519.PublicKey { return b.signing }

// Recipient returns the age recipient of the broker's primary key. A sender
// must use CurrentRecipients instead.
func (b *Broker) Recipient() age.Recipient { return b.recipient }

// KeyAt returns the broker's key kid if it is valid at t; errors as for
// Agency.KeyAt.
func (b *Broker) KeyAt(kid string, t time.Time) (*Key, error) {
	return keyRing(b.Keys).at("the broker", kid, t)
}

// Key returns the broker's key kid, whatever its validity.
func (b *Broker) Key(kid string) (*Key, bool) { return keyRing(b.Keys).find(kid) }

// CurrentRecipients returns the age recipients of every broker key valid at
// t, which policy metadata is sealed to.
func (b *Broker) CurrentRecipients(t time.Time) []age.Recipient {
	return keyRing(b.Keys).recipients(t)
}

// NKeysAt returns the broker's NATS user keys not revoked or expired at t.
func (b *Broker) NKeysAt(t time.Time) []string { return keyRing(b.Keys).nkeys(t) }

func (b *Broker) validate() error {
	list, err := normalize("broker", b.Keys, b.SigningKey, b.AgeRecipient, b.NATS.NKey)
	if err != nil {
		return err
	}
	b.Keys = list
	p := keyRing(b.Keys).primary(time.Now())
	b.SigningKey, b.AgeRecipient, b.NATS.NKey = p.SigningKey, p.AgeRecipient, p.NKey
	b.signing, b.recipient = p.signing, p.recipient
	return nil
}

// Directory is a validated, immutable list of agencies. Replace it, never mutate it.
type Directory struct {
	Broker   Broker   `json:"broker"`
	Agencies []Agency `json:"agencies"`
	// Auditors may read the audit log over NATS, and do nothing else.
	Auditors []Auditor `json:"auditors,omitempty"`

	byID map[string]*Agency
}

// Parse decodes and validates a directory in YAML or JSON. Unknown fields are
// errors, because a misspelt field would otherwise silently change who may
// receive what.
func Parse(b []byte) (*Directory, error) {
	var d Directory
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if err := d.index(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return &d, nil
}

// Load reads and parses the directory file at path.
func Load(path string) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

func (d *Directory) index() error {
	if err := d.Broker.validate(); err != nil {
		return err
	}
	d.byID = make(map[string]*Agency, len(d.Agencies))
	// A key belongs to one party: a signing key shared by two would let one
	// sign as the other, an nkey shared would let one act as the other on
	// NATS.
	nkeys := map[string]string{}
	signing := map[string]string{}
	claim := func(owner string, list []Key) error {
		for _, k := range list {
			if other, dup := signing[k.SigningKey]; dup && other != owner {
				return fmt.Errorf("%s: signing key %s is already used by %s", owner, k.ID, other)
			}
			signing[k.SigningKey] = owner
			if k.NKey == "" {
				continue
			}
			if other, dup := nkeys[k.NKey]; dup {
				return fmt.Errorf("%s: nats nkey of key %s is already used by %s", owner, k.ID, other)
			}
			nkeys[k.NKey] = owner
		}
		return nil
	}
	if err := claim("the broker", d.Broker.Keys); err != nil {
		return err
	}
	for i := range d.Agencies {
		a := &d.Agencies[i]
		if err := a.validate(); err != nil {
			return err
		}
		if _, dup := d.byID[a.ID]; dup {
			return fmt.Errorf("agency id %q appears twice", a.ID)
		}
		if err := claim(a.ID, a.Keys); err != nil {
			return err
		}
		d.byID[a.ID] = a
	}
	if err := validateAuditors(d.Auditors); err != nil {
		return err
	}
	for _, a := range d.Auditors {
		// An auditor's nkey is its own: shared, the party could read as
		// an auditor, or the auditor act as the party.
		if other, dup := nkeys[a.NKey]; dup {
			return fmt.Errorf("auditor %s: nkey is already used by %s", a.Name, other)
		}
		nkeys[a.NKey] = "auditor " + a.Name
	}
	return nil
}

// Lookup returns the agency with the given id.
func (d *Directory) Lookup(id string) (*Agency, bool) {
	a, ok := d.byID[id]
	return a, ok
}

// fileDirectory is the form Marshal writes: key lists only, never the
// single-key fields.
type fileDirectory struct {
	Broker   fileBroker   `json:"broker"`
	Agencies []fileAgency `json:"agencies"`
	Auditors []Auditor    `json:"auditors,omitempty"`
}

type fileBroker struct {
	Keys []Key `json:"keys"`
}

type fileAgency struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Operator string `json:"operator,omitempty"`
	Name     string `json:"name"`
	Keys     []Key  `json:"keys"`
}

// Marshal encodes the directory as YAML, agencies sorted by id, every
// party's keys as a list: a party given with the single-key fields only
// (built in Go and never parsed) is written as a one-key list. Marshal does
// not validate; Write does.
func (d *Directory) Marshal() ([]byte, error) {
	out := fileDirectory{Broker: fileBroker{Keys: keyList(d.Broker.Keys, d.Broker.SigningKey, d.Broker.AgeRecipient, d.Broker.NATS.NKey)},
		Agencies: make([]fileAgency, 0, len(d.Agencies)), Auditors: d.Auditors}
	for _, a := range d.Agencies {
		out.Agencies = append(out.Agencies, fileAgency{ID: a.ID, Kind: a.Kind, Operator: a.Operator, Name: a.Name,
			Keys: keyList(a.Keys, a.SigningKey, a.AgeRecipient, a.NATS.NKey)})
	}
	sort.Slice(out.Agencies, func(i, j int) bool { return out.Agencies[i].ID < out.Agencies[j].ID })
	return yaml.Marshal(out)
}

// ErrExists is returned by Add when the agency id is already in the directory.
var ErrExists = errors.New("directory: agency already exists")

// Add validates a and writes a new directory file containing it. The file is
// replaced atomically, so a broker watching it sees either the old or the new
// directory, never half of one.
func Add(path string, a Agency) (*Directory, error) {
	d, err := Load(path)
	if err != nil {
		return nil, err
	}
	if _, ok := d.Lookup(a.ID); ok {
		return nil, fmt.Errorf("%w: %s", ErrExists, a.ID)
	}
	next := &Directory{Broker: d.Broker, Agencies: append(append([]Agency(nil), d.Agencies...), a), Auditors: d.Auditors}
	if err := next.index(); err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	if err := Write(path, next); err != nil {
		return nil, err
	}
	return next, nil
}

// Write validates d and atomically replaces the file at path with it.
func Write(path string, d *Directory) error {
	b, err := d.Marshal()
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	if _, err := Parse(b); err != nil {
		return err
	}
	return writeAtomic(path, b)
}

func writeAtomic(path string, b []byte) error {
	// An unchanged file is left alone, so that watching brokers do not reload.
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	// The directory holds only public keys; operators read it.
	if err := safefile.Write(path, b, 0o644); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	return nil
}
