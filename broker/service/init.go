package service

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
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// Init creates the broker's keys (signing, age, NATS and the audit log's
// checkpoint key) and an empty agency directory in dataDir. It does nothing
// when they already exist, and never replaces a key.
func Init(dataDir string) (created bool, err error) {
	dirPath := filepath.Join(dataDir, DirectoryFile)
	if _, err := os.Stat(dirPath); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("init: %w", err)
	}
	bdir := filepath.Join(dataDir, BrokerDir)
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

// AgencyDir returns where agency id's private keys live in dataDir.
func AgencyDir(dataDir, id string) string { return filepath.Join(dataDir, AgenciesDir, id) }

// NewAgency creates the agency's key files (mode 0600) in AgencyDir and adds
// its public keys to the directory. A running broker picks it up by itself.
func NewAgency(dataDir string, s AgencySpec) (*directory.Agency, error) {
	dirPath := filepath.Join(dataDir, DirectoryFile)
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
	k, err := newKeys(AgencyDir(dataDir, s.ID), !s.X25519)
	if err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	if err := ensurePseudonymKey(dataDir); err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	if err := pseudonym.CopyKey(filepath.Join(dataDir, PseudonymKeyFile), filepath.Join(AgencyDir(dataDir, s.ID), pseudonym.KeyFile)); err != nil {
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
