package service

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

// BrokerKeysDir holds the broker's rotated key generations, one directory
// per key id, inside the broker's key folder (layout.BrokerKeys). The first generation is that folder itself.
const BrokerKeysDir = "keys"

// brokerKeys are the broker's key generations on disk that the directory
// lists as usable now.
type brokerKeys struct {
	// signing and nkeyPath are the newest generation valid now: receipts are
	// signed, and NATS logged in to, with it.
	kid      string
	signing  ed25519.PrivateKey
	nkeyPath string
	// identity is that generation's age identity; others are those of every
	// other generation neither revoked nor expired, which metadata sealed
	// during an overlap may be encrypted to.
	identity age.Identity
	others   []age.Identity
}

func brokerKeyDirs(bdir string) ([]string, error) {
	more, err := filepath.Glob(filepath.Join(bdir, BrokerKeysDir, "k-*"))
	if err != nil {
		return nil, err
	}
	return append([]string{bdir}, more...), nil
}

// loadBrokerKeys reads every generation of the broker's keys in bdir and
// keeps those the directory d lists as neither revoked nor expired at now.
func loadBrokerKeys(bdir string, d *directory.Directory, now time.Time) (*brokerKeys, error) {
	dirs, err := brokerKeyDirs(bdir)
	if err != nil {
		return nil, fmt.Errorf("service: broker keys: %w", err)
	}
	var (
		bk   brokerKeys
		best *directory.Key
		ids  []age.Identity
	)
	for _, dir := range dirs {
		priv, err := keys.LoadSigningKey(filepath.Join(dir, keys.SigningKeyFile))
		if err != nil {
			return nil, fmt.Errorf("service: broker signing key (run brokerctl init): %w", err)
		}
		kid := directory.KeyID(priv.Public().(ed25519.PublicKey))
		k, ok := d.Broker.Key(kid)
		if !ok || k.Revoked(now) || (k.NotAfter != nil && !now.Before(*k.NotAfter)) {
			continue
		}
		id, err := keys.LoadAgeIdentity(filepath.Join(dir, keys.AgeKeyFile))
		if err != nil {
			return nil, fmt.Errorf("service: broker age identity (run brokerctl init): %w", err)
		}
		if k.ValidAt(now) && (best == nil || !k.NotBefore.Before(best.NotBefore)) {
			if best != nil {
				ids = append(ids, bk.identity)
			}
			best = k
			bk.kid, bk.signing, bk.identity, bk.nkeyPath = kid, priv, id, filepath.Join(dir, keys.NKeyFile)
			continue
		}
		ids = append(ids, id)
	}
	if best == nil {
		return nil, fmt.Errorf("service: none of the broker's keys in %s is valid now in the directory (broker keys); check the directory or run brokerctl broker rotate", bdir)
	}
	bk.others = ids
	return &bk, nil
}

// brokerNKeyPath is the seed the broker logs in to NATS with: that of its
// newest key valid now, or the first generation's when the directory can't
// tell (a tool run without one).
func brokerNKeyPath(dataDir string) string {
	bdir := layout.BrokerKeys(dataDir)
	if d, err := directory.Load(layout.Directory(dataDir)); err == nil {
		if bk, err := loadBrokerKeys(bdir, d, time.Now()); err == nil {
			return bk.nkeyPath
		}
	}
	return filepath.Join(bdir, keys.NKeyFile)
}

// RotateBrokerKey creates a new generation of the broker's keys in
// dataDir/broker/keys/<key id>/ and adds its public halves to the directory,
// valid from now. Agencies seal metadata to both keys from then on; the
// broker signs with the new key once restarted. Revoke the old key with
// RevokeBrokerKey after that.
func RotateBrokerKey(dataDir string, x25519 bool, now time.Time) (kid string, err error) {
	parent := filepath.Join(layout.BrokerKeys(dataDir), BrokerKeysDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".new-")
	if err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	defer os.RemoveAll(tmp) // empty once renamed
	pk, _, err := enroll.Generate(tmp, x25519)
	if err != nil {
		return "", err
	}
	final := filepath.Join(parent, pk.ID)
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	path := layout.Directory(dataDir)
	d, err := directory.Load(path)
	if err != nil {
		return "", err
	}
	next, err := enroll.AddBrokerKey(d, pk, now)
	if err != nil {
		return "", err
	}
	if err := directory.Write(path, next); err != nil {
		return "", err
	}
	return pk.ID, nil
}

// RevokeBrokerKey revokes the broker's key kid in the directory of dataDir
// from now on. Receipts it signed no longer verify, so revoke a key that
// was merely rotated out only if it may have leaked; otherwise let it
// expire. It refuses to revoke the last usable key.
func RevokeBrokerKey(dataDir, kid, reason string, now time.Time) error {
	path := layout.Directory(dataDir)
	d, err := directory.Load(path)
	if err != nil {
		return err
	}
	next, err := enroll.RevokeBrokerKey(d, kid, reason, now)
	if err != nil {
		return err
	}
	if _, err := loadBrokerKeys(layout.BrokerKeys(dataDir), next, now); err != nil {
		return errors.New("service: after this revocation no broker key on disk would be usable; rotate first and restart the broker")
	}
	return directory.Write(path, next)
}
