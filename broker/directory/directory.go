// Package directory holds the broker's list of agencies: who they are, what kind of
// body they are in law, and which keys speak for them.
//
// The directory is the only source of facts about the parties that the policy sees.
// A sender may claim anything inside its encrypted metadata; whether it is the police,
// a municipal school or an independent one is decided here.
package directory

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Agency kinds known to the law the policies encode.
const (
	KindPolice         = "police"
	KindSchool         = "school"
	KindSocialServices = "social_services"
)

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
type Agency struct {
	ID           string `json:"id"`
	Kind         string `json:"kind"`
	Operator     string `json:"operator,omitempty"`
	Name         string `json:"name"`
	SigningKey   string `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	NATS         NATS   `json:"nats,omitempty"`

	signing   ed25519.PublicKey
	recipient age.Recipient
}

// Authority reports whether the agency is a public authority (myndighet). An
// independent school is not one, which is why OSL 10:27 and 10:15 a do not
// apply to it.
func (a *Agency) Authority() bool {
	return !(a.Kind == KindSchool && a.Operator == OperatorIndependent)
}

// SigningPublicKey returns the key that must have signed every envelope from the agency.
func (a *Agency) SigningPublicKey() ed25519.PublicKey { return a.signing }

// Recipient returns the age recipient payloads for the agency are encrypted to.
func (a *Agency) Recipient() age.Recipient { return a.recipient }

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

func (a *Agency) validate() error {
	if !ValidID(a.ID) {
		return fmt.Errorf("agency id %q: use 2-63 characters of a-z, 0-9 and '-', starting with a letter or digit", a.ID)
	}
	switch a.Kind {
	case KindPolice, KindSocialServices:
		if a.Operator != "" {
			return fmt.Errorf("agency %s: operator is only for schools", a.ID)
		}
	case KindSchool:
		if a.Operator != OperatorMunicipal && a.Operator != OperatorIndependent {
			return fmt.Errorf("agency %s: a school needs operator %q or %q", a.ID, OperatorMunicipal, OperatorIndependent)
		}
	default:
		return fmt.Errorf("agency %s: kind %q is not one of %s, %s, %s", a.ID, a.Kind, KindPolice, KindSchool, KindSocialServices)
	}
	if a.Name == "" {
		return fmt.Errorf("agency %s: name is empty", a.ID)
	}
	var err error
	if a.signing, err = keys.ParseSigningPublicKey(a.SigningKey); err != nil {
		return fmt.Errorf("agency %s: signing_key: %w", a.ID, err)
	}
	if a.recipient, err = keys.ParseAgeRecipient(a.AgeRecipient); err != nil {
		return fmt.Errorf("agency %s: age_recipient: %w", a.ID, err)
	}
	return nil
}

// Broker is the broker's own public identity, which agencies need to encrypt
// policy metadata to it and to verify its receipts.
type Broker struct {
	SigningKey   string `json:"signing_key"`
	AgeRecipient string `json:"age_recipient"`
	NATS         NATS   `json:"nats,omitempty"`

	signing   ed25519.PublicKey
	recipient age.Recipient
}

// SigningPublicKey returns the key the broker signs receipts and decisions with.
func (b *Broker) SigningPublicKey() ed25519.PublicKey { return b.signing }

// Recipient returns the age recipient policy metadata is encrypted to.
func (b *Broker) Recipient() age.Recipient { return b.recipient }

// Directory is a validated, immutable list of agencies. Replace it, never mutate it.
type Directory struct {
	Broker   Broker   `json:"broker"`
	Agencies []Agency `json:"agencies"`

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
	var err error
	if d.Broker.signing, err = keys.ParseSigningPublicKey(d.Broker.SigningKey); err != nil {
		return fmt.Errorf("broker signing_key: %w", err)
	}
	if d.Broker.recipient, err = keys.ParseAgeRecipient(d.Broker.AgeRecipient); err != nil {
		return fmt.Errorf("broker age_recipient: %w", err)
	}
	d.byID = make(map[string]*Agency, len(d.Agencies))
	nkeys := map[string]string{}
	if d.Broker.NATS.NKey != "" {
		nkeys[d.Broker.NATS.NKey] = "the broker"
	}
	for i := range d.Agencies {
		a := &d.Agencies[i]
		if err := a.validate(); err != nil {
			return err
		}
		if _, dup := d.byID[a.ID]; dup {
			return fmt.Errorf("agency id %q appears twice", a.ID)
		}
		if a.NATS.NKey != "" {
			if other, dup := nkeys[a.NATS.NKey]; dup {
				return fmt.Errorf("agency %s: nats nkey is already used by %s", a.ID, other)
			}
			nkeys[a.NATS.NKey] = a.ID
		}
		d.byID[a.ID] = a
	}
	return nil
}

// Lookup returns the agency with the given id.
func (d *Directory) Lookup(id string) (*Agency, bool) {
	a, ok := d.byID[id]
	return a, ok
}

// Marshal encodes the directory as YAML, agencies sorted by id.
func (d *Directory) Marshal() ([]byte, error) {
	out := Directory{Broker: d.Broker, Agencies: append([]Agency(nil), d.Agencies...)}
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
	next := &Directory{Broker: d.Broker, Agencies: append(append([]Agency(nil), d.Agencies...), a)}
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
