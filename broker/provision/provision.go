// Package provision creates a data directory and agencies in one step: the
// broker's keys and the agency directory that publishes public keys, and
// each agency's keys in a home of its own, through the same enrollment an
// agency goes through when it makes its keys itself (package enroll).
// brokerctl, the demo and tests use it; so does the daemon's first start.
//
// Nothing here ever replaces a key file: keys are created once, and a
// deliberate replacement happens outside.
package provision

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// Init creates the broker's keys (signing, age, NATS and the audit log's
// checkpoint key), an auditor's NATS key (see EnsureAuditor), the operators'
// dashboard token (see EnsureOpsToken) and an empty agency directory in
// dataDir. It does nothing
// when they already exist, and never replaces a key. The pseudonym secret
// is the agencies' and is made with the first of them (see AddAgency).
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
	auditor, err := keys.WriteNKeySeed(filepath.Join(bdir, keys.AuditorNKeyFile))
	if err != nil {
		return false, fmt.Errorf("init: auditor key: %w", err)
	}
	if _, _, err := EnsureOpsToken(dataDir); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	d := &directory.Directory{Broker: directory.Broker{
		SigningKey: b.signing, AgeRecipient: b.recipient, NATS: directory.NATS{NKey: b.nkey},
	}, Auditors: []directory.Auditor{{Name: AuditorName, NKey: auditor}}}
	if err := directory.Write(dirPath, d); err != nil {
		return false, fmt.Errorf("init: %w", err)
	}
	return true, nil
}

// opsTokenBytes is the length of the operators' token before encoding: 256
// random bits, as long as the broker's other secrets.
const opsTokenBytes = 32

// EnsureOpsToken creates the operators' bearer token of the broker's HTTP
// listener, layout.OpsToken(dataDir), unless it exists: 32 random bytes in
// unpadded base64url on one line, mode 0600. It returns the file's path and
// whether it made it. The daemon calls it at start too, so that data
// directories from before the dashboard get a token; an existing token is
// never replaced (remove the file and restart the broker to change it).
func EnsureOpsToken(dataDir string) (path string, created bool, err error) {
	path = layout.OpsToken(dataDir)
	b := make([]byte, opsTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("ops token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	// Creating it and accepting an existing one, rather than checking first,
	// lets two starts race safely.
	switch err := safefile.Create(path, []byte(tok+"\n"), 0o600); {
	case err == nil:
		return path, true, nil
	case errors.Is(err, fs.ErrExist):
		return path, false, nil
	default:
		return "", false, fmt.Errorf("ops token: %w", err)
	}
}

// LoadOpsToken reads the operators' token at path. It refuses a file that
// every user may read, or a token shorter than 16 characters, with an error
// that says how to fix it: the token opens the dashboard. Read by its group
// is allowed, as Kubernetes mounts a Secret for a non-root broker (fsGroup).
func LoadOpsToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ops token: %w (brokerctl init or a broker start creates it)", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return "", fmt.Errorf("ops token: %s has mode %v; every user may read it, and it opens the dashboard (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("ops token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("ops token: %s holds no token of at least 16 characters on one line; remove it and restart the broker to make a new one", path)
	}
	return tok, nil
}

// AuditorName is the name of the auditor user Init makes.
const AuditorName = "auditor"

// EnsureAuditor gives a data directory made before auditors existed the
// auditor user Init makes today: a NATS seed in the broker's key folder
// (keys.AuditorNKeyFile) and its public key in the directory as auditor
// AuditorName, with read rights on the audit log only. It returns the
// public key and whether anything was written; a running broker picks the
// user up by itself.
func EnsureAuditor(dataDir string) (nkey string, created bool, err error) {
	path := filepath.Join(layout.BrokerKeys(dataDir), keys.AuditorNKeyFile)
	_, nkey, err = keys.LoadNKeySeed(path)
	if errors.Is(err, fs.ErrNotExist) {
		nkey, err = keys.WriteNKeySeed(path)
		created = err == nil
	}
	if err != nil {
		return "", false, fmt.Errorf("auditor key: %w", err)
	}
	dirPath := layout.Directory(dataDir)
	d, err := directory.Load(dirPath)
	if err != nil {
		return "", false, err
	}
	for _, a := range d.Auditors {
		if a.NKey == nkey {
			return nkey, created, nil
		}
		if a.Name == AuditorName {
			return "", false, fmt.Errorf("auditor: the directory's auditor %q has another key than %s", AuditorName, path)
		}
	}
	next := *d
	next.Auditors = append(append([]directory.Auditor(nil), d.Auditors...), directory.Auditor{Name: AuditorName, NKey: nkey})
	if err := directory.Write(dirPath, &next); err != nil {
		return "", false, err
	}
	return nkey, true, nil
}

// AgencySpec describes a new agency.
type AgencySpec struct {
	ID, Kind, Operator, Name string
	// X25519 selects a classic age key instead of the default hybrid
	// post-quantum one, for peers whose tools predate age 1.3.
	X25519 bool
}

// AddAgency creates agency s in one step the way it would enrol itself:
// its keys and a request made in its home, layout.AgencyHome(agencies,
// s.ID), as "brokerctl agency keygen" makes them (enroll.NewRequest), then
// the request verified and its public halves added to the directory in
// dataDir, as "brokerctl agency add" does (enroll.Apply). The home also gets
// a copy of the deployment's pseudonym secret, layout.PseudonymKey(agencies),
// which is created if missing.
//
// agencies must lie outside dataDir, and dataDir outside it, so that the
// broker's folder never holds an agency's private key. A running broker
// picks the agency up by itself.
func AddAgency(dataDir, agencies string, s AgencySpec) (*directory.Agency, error) {
	if err := CheckApart(dataDir, agencies); err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	return enrol(dataDir, layout.AgencyHome(agencies, s.ID), layout.PseudonymKey(agencies), s)
}

// NewAgency creates agency s like AddAgency, but keeps its home in the
// older layout, inside the broker's data directory: layout.AgencyKeys(dataDir,
// s.ID), with the pseudonym secret in layout.PseudonymKey(dataDir). Tests
// use it, for one folder is simpler to clean up; a deployment should not,
// for the broker's folder then holds every agency's private keys.
func NewAgency(dataDir string, s AgencySpec) (*directory.Agency, error) {
	return enrol(dataDir, layout.AgencyKeys(dataDir, s.ID), layout.PseudonymKey(dataDir), s)
}

// enrol runs keygen in home and add on the broker's side, and copies the
// pseudonym secret at secret into home.
func enrol(dataDir, home, secret string, s AgencySpec) (*directory.Agency, error) {
	dirPath := layout.Directory(dataDir)
	d, err := directory.Load(dirPath)
	if err != nil {
		return nil, fmt.Errorf("agency new: %w (run brokerctl init first)", err)
	}
	if _, ok := d.Lookup(s.ID); ok {
		return nil, fmt.Errorf("agency new: %w: %s", directory.ErrExists, s.ID)
	}
	now := time.Now()
	// The agency's side. NewRequest checks the facts before it writes a key.
	if _, err := enroll.NewRequest(home, enroll.Facts{ID: s.ID, Kind: s.Kind, Operator: s.Operator, Name: s.Name}, s.X25519, now); err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	if err := ensurePseudonymKey(secret); err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	if err := keys.CopyPseudonymKey(secret, layout.HomePseudonymKey(home)); err != nil {
		return nil, fmt.Errorf("agency new %s: %w", s.ID, err)
	}
	// The broker's side reads the request file, as agency add does, so that
	// nothing but what the file holds reaches the directory.
	r, err := enroll.Load(filepath.Join(home, enroll.RequestFile))
	if err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	next, err := enroll.Apply(dirPath, r, now)
	if err != nil {
		return nil, fmt.Errorf("agency new: %w", err)
	}
	added, _ := next.Lookup(s.ID)
	return added, nil
}

// CheckApart reports an error unless the folder of agency homes and the
// broker's data directory lie side by side, neither inside the other.
func CheckApart(dataDir, agencies string) error {
	d, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	a, err := filepath.Abs(agencies)
	if err != nil {
		return err
	}
	if within(d, a) || within(a, d) {
		return fmt.Errorf("the agencies' folder %s and the broker's data directory %s must lie side by side, neither inside the other, "+
			"so that the broker's folder holds no agency's private key", agencies, dataDir)
	}
	return nil
}

// within reports whether path p is dir or inside it (both absolute, clean).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
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

// ensurePseudonymKey creates the pseudonym secret at path unless it exists.
func ensurePseudonymKey(path string) error {
	// Creating it and accepting an existing one, rather than checking
	// first, lets two provisioning runs race safely.
	if err := keys.WritePseudonymKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
