// Package provision creates a data directory and the agencies in it: the
// broker's keys, each agency's keys, the deployment's pseudonym secret and
// the agency directory that publishes their public keys. brokerctl, the demo
// and tests use it; so does the daemon's first start.
//
// Nothing here ever replaces a key file: keys are created once, and a
// deliberate replacement happens outside.
package provision

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

// Init creates the broker's keys (signing, age, NATS and the audit log's
// checkpoint key) and an empty agency directory in dataDir. It does nothing
// when they already exist, and never replaces a key.
func Init(dataDir string) (created bool, err error) {
	dirPath := layout.Directory(dataDir)
	if _, err := os.Stat(dirPath); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("init: %w", err)
	}
	bdir := layout.BrokerKeys(dataDir)
	b, err := newKeys(bdir, true)
	if err != nil {
		return false, fmt.Errorf("init: broker keys: %w", err)
	}
	if _, err := keys.EnsureAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile)); err != nil {
		return false, fmt.Errorf("init: audit key: %w", err)
	}
	d := &directory.Directory{Broker: directory.Broker{
		SigningKey: b.signing, AgeRecipient: b.recipient, NATS: directory.NATS{NKey: b.nkey},
	}}
	if err := ensurePseudonymKey(dataDir); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	if err := directory.Write(dirPath, d); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	return true, nil
}

// AgencySpec describes a new agency.
type AgencySpec struct {
	ID, Kind, Operator, Name string
	// X25519 selects a classic age key instead of the default hybrid
	// post-quantum one, for peers whose tools predate age 1.3.
	X25519 bool
}

// NewAgency creates the agency's key files (mode 0600) in
// layout.AgencyKeys(dataDir, s.ID), with a copy of the deployment's pseudonym
// key, and adds its public keys to the directory. A running broker picks it
// up by itself.
func NewAgency(dataDir string, s AgencySpec) (*directory.Agency, error) {
	dirPath := layout.Directory(dataDir)
	d, err := directory.Load(dirPath)
	if err != nil {
		return nil, fmt.Errorf("agency new: %w (run brokerctl init first)", err)
	}
	if _, ok := d.Lookup(s.ID); ok {
		return nil, fmt.Errorf("agency new: %w: %s", directory.ErrExists, s.ID)
	}
	if !directory.ValidID(s.ID) {
		return nil, fmt.Errorf("agency new: id %q: use 2-63 characters of a-z, 0-9 and '-'", s.ID)
	}
	// Validate everything but the keys before writing any key file.
	probe := directory.Agency{ID: s.ID, Kind: s.Kind, Operator: s.Operator, Name: s.Name,
		SigningKey: d.Broker.SigningKey, AgeRecipient: d.Broker.AgeRecipient}
	if _, err := directory.Parse(mustMarshal(&directory.Directory{Broker: d.Broker, Agencies: []directory.Agency{probe}})); err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	kdir := layout.AgencyKeys(dataDir, s.ID)
	k, err := newKeys(kdir, !s.X25519)
	if err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	if err := ensurePseudonymKey(dataDir); err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	if err := keys.CopyPseudonymKey(layout.PseudonymKey(dataDir), filepath.Join(kdir, keys.PseudonymKeyFile)); err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	a := directory.Agency{ID: s.ID, Kind: s.Kind, Operator: s.Operator, Name: s.Name,
		SigningKey: k.signing, AgeRecipient: k.recipient, NATS: directory.NATS{NKey: k.nkey}}
	next, err := directory.Add(dirPath, a)
	if err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	added, _ := next.Lookup(s.ID)
	return added, nil
}

func mustMarshal(d *directory.Directory) []byte {
	b, err := d.Marshal()
	if err != nil {
		panic(err) // plain strings always marshal
	}
	return b
}

type publicKeys struct{ signing, recipient, nkey string }

func newKeys(dir string, hybrid bool) (publicKeys, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return publicKeys{}, err
	}
	if err := keys.WriteSigningKey(filepath.Join(dir, keys.SigningKeyFile), priv); err != nil {
		return publicKeys{}, err
	}
	rcpt, err := keys.WriteAgeIdentity(filepath.Join(dir, keys.AgeKeyFile), hybrid)
	if err != nil {
		return publicKeys{}, err
	}
	nk, err := keys.WriteNKeySeed(filepath.Join(dir, keys.NKeyFile))
	if err != nil {
		return publicKeys{}, err
	}
	return publicKeys{signing: keys.FormatSigningPublicKey(pub), recipient: rcpt, nkey: nk}, nil
}

// ensurePseudonymKey creates the pseudonym secret unless it exists; data
// directories made before it existed get one on the next agency.
func ensurePseudonymKey(dataDir string) error {
	// Creating it and accepting an existing one, rather than checking
	// first, lets two provisioning runs race safely.
	if err := keys.WritePseudonymKey(layout.PseudonymKey(dataDir)); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
