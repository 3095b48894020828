package provision_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
)

// files lists every file under root with its mode, as "path mode", so that
// the layout of a new data directory is checked in full.
func files(t *testing.T, root string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fi.Mode()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestInitAndNewAgency(t *testing.T) {
	data := t.TempDir()
	created, err := provision.Init(data)
	if err != nil || !created {
		t.Fatalf("Init = %v, %v; want created", created, err)
	}
	if _, err := provision.NewAgency(data, provision.AgencySpec{ID: "polisen-syd", Kind: directory.KindPolice, Name: "Polisen"}); err != nil {
		t.Fatal(err)
	}
	a, err := provision.NewAgency(data, provision.AgencySpec{ID: "skolan", Kind: directory.KindSchool,
		Operator: directory.OperatorMunicipal, Name: "Skolan", X25519: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.AgeRecipient, "age1") || strings.HasPrefix(a.AgeRecipient, "age1pq1") {
		t.Errorf("X25519 agency got recipient %q, want a classic age1…", a.AgeRecipient)
	}

	// The on-disk layout of data directories made before agencies had homes.
	want := map[string]os.FileMode{
		"directory.yaml":                     0o644,
		"pseudonym.key":                      0o600,
		"broker":                             os.ModeDir | 0o700,
		"broker/signing.key":                 0o600,
		"broker/age.key":                     0o600,
		"broker/nats.nk":                     0o600,
		"broker/audit.key":                   0o600,
		"broker/audit.pub":                   0o644,
		"broker/audit-keys.txt":              0o644,
		"broker/auditor-nats.nk":             0o600,
		"broker/ops.token":                   0o600,
		"agencies":                           os.ModeDir | 0o700,
		"agencies/polisen-syd":               os.ModeDir | 0o700,
		"agencies/polisen-syd/signing.key":   0o600,
		"agencies/polisen-syd/age.key":       0o600,
		"agencies/polisen-syd/nats.nk":       0o600,
		"agencies/polisen-syd/pseudonym.key": 0o600,
		"agencies/polisen-syd/request.json":  0o600,
		"agencies/skolan":                    os.ModeDir | 0o700,
		"agencies/skolan/signing.key":        0o600,
		"agencies/skolan/age.key":            0o600,
		"agencies/skolan/nats.nk":            0o600,
		"agencies/skolan/pseudonym.key":      0o600,
		"agencies/skolan/request.json":       0o600,
	}
	got := files(t, data)
	for p, m := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("missing %s", p)
		} else if g != m {
			t.Errorf("%s has mode %v, want %v", p, g, m)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s", p)
		}
	}

	// Every agency holds the deployment's pseudonym secret.
	deployment, err := keys.LoadPseudonymSecret(layout.PseudonymKey(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"polisen-syd", "skolan"} {
		s, err := keys.LoadPseudonymSecret(filepath.Join(layout.AgencyKeys(data, id), keys.PseudonymKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s, deployment) {
			t.Errorf("%s holds another pseudonym secret than the deployment's", id)
		}
	}

	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Agencies) != 2 || d.Broker.NATS.NKey == "" {
		t.Errorf("directory: %d agencies, broker nkey %q; want 2 and a key", len(d.Agencies), d.Broker.NATS.NKey)
	}
}

// Init of an initialised directory changes nothing.
func TestInitTwice(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	signing := filepath.Join(layout.BrokerKeys(data), keys.SigningKeyFile)
	before, err := os.ReadFile(signing)
	if err != nil {
		t.Fatal(err)
	}
	created, err := provision.Init(data)
	if err != nil || created {
		t.Fatalf("second Init = %v, %v; want not created, no error", created, err)
	}
	after, _ := os.ReadFile(signing)
	if !bytes.Equal(before, after) {
		t.Error("second Init replaced the broker's signing key")
	}
}

// TestEnsureAuditor: Init lists its auditor in the directory; a data
// directory made before auditors existed gets one, once.
func TestEnsureAuditor(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(layout.BrokerKeys(data), keys.AuditorNKeyFile)
	_, pub, err := keys.LoadNKeySeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil || len(d.Auditors) != 1 || d.Auditors[0].NKey != pub || d.Auditors[0].Name != provision.AuditorName {
		t.Fatalf("auditors after Init: %+v %v", d, err)
	}
	if nk, created, err := provision.EnsureAuditor(data); err != nil || created || nk != pub {
		t.Fatalf("EnsureAuditor after Init = %s, %v, %v; want %s, nothing new", nk, created, err, pub)
	}

	// An older directory: no auditor, no seed.
	if err := os.Remove(seed); err != nil {
		t.Fatal(err)
	}
	d.Auditors = nil
	if err := directory.Write(layout.Directory(data), d); err != nil {
		t.Fatal(err)
	}
	nk, created, err := provision.EnsureAuditor(data)
	if err != nil || !created || nk == pub {
		t.Fatalf("EnsureAuditor on an older directory = %s, %v, %v", nk, created, err)
	}
	if _, again, _ := keys.LoadNKeySeed(seed); again != nk {
		t.Fatalf("seed %s is not the listed auditor %s", again, nk)
	}
	if d, err = directory.Load(layout.Directory(data)); err != nil || len(d.Auditors) != 1 || d.Auditors[0].NKey != nk {
		t.Fatalf("auditors: %+v %v", d.Auditors, err)
	}
}

func TestNewAgencyErrors(t *testing.T) {
	data := t.TempDir()
	spec := provision.AgencySpec{ID: "soc-lund", Kind: directory.KindSocialServices, Name: "Socialtjänsten Lund"}
	if _, err := provision.NewAgency(data, spec); err == nil || !strings.Contains(err.Error(), "run brokerctl init first") {
		t.Errorf("NewAgency before Init: %v, want advice to run brokerctl init", err)
	}
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	if _, err := provision.NewAgency(data, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := provision.NewAgency(data, spec); !errors.Is(err, directory.ErrExists) {
		t.Errorf("adding %s twice: %v, want directory.ErrExists", spec.ID, err)
	}
	for _, bad := range []provision.AgencySpec{
		{ID: "Polis.Syd", Kind: directory.KindPolice, Name: "Polisen"},
		{ID: "polis-syd", Kind: "police-ish", Name: "Polisen"},
	} {
		if _, err := provision.NewAgency(data, bad); err == nil {
			t.Errorf("NewAgency(%+v) succeeded", bad)
		}
		// Nothing is written for a refused agency.
		if _, err := os.Stat(layout.AgencyKeys(data, bad.ID)); err == nil {
			t.Errorf("a refused agency %q left a key folder", bad.ID)
		}
	}
}

// Init makes no pseudonym secret, which is the agencies' and not the
// broker's; the first agency does.
func TestFirstAgencyCreatesPseudonymKey(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(layout.PseudonymKey(data)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Init made a pseudonym secret: %v", err)
	}
	if _, err := provision.NewAgency(data, provision.AgencySpec{ID: "polisen-syd", Kind: directory.KindPolice, Name: "Polisen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.LoadPseudonymSecret(layout.PseudonymKey(data)); err != nil {
		t.Errorf("no deployment pseudonym key after NewAgency: %v", err)
	}
}

// AddAgency keeps every agency's keys in its home, apart from the broker's
// folder, and the directory learns only their public halves.
func TestAddAgencyKeepsKeysApart(t *testing.T) {
	root := t.TempDir()
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	specs := []provision.AgencySpec{
		{ID: "polisen-syd", Kind: directory.KindPolice, Name: "Polisen"},
		{ID: "skolan", Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Skolan", X25519: true},
	}
	for _, s := range specs {
		a, err := provision.AddAgency(data, agencies, s)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Keys) != 1 || a.Kind != s.Kind || a.Name != s.Name {
			t.Errorf("added %+v", a)
		}
	}
	for p := range files(t, data) {
		if p != "directory.yaml" && !strings.HasPrefix(p, "broker") {
			t.Errorf("the broker's folder holds %s", p)
		}
	}
	want := map[string]os.FileMode{"pseudonym.key": 0o600}
	for _, s := range specs {
		want[s.ID] = os.ModeDir | 0o700
		for _, f := range []string{keys.SigningKeyFile, keys.AgeKeyFile, keys.NKeyFile, keys.PseudonymKeyFile, "request.json"} {
			want[s.ID+"/"+f] = 0o600
		}
	}
	got := files(t, agencies)
	for p, m := range want {
		if g, ok := got[p]; !ok || g != m {
			t.Errorf("%s: mode %v (present %v), want %v", p, g, ok, m)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s", p)
		}
	}
	deployment, err := keys.LoadPseudonymSecret(layout.PseudonymKey(agencies))
	if err != nil {
		t.Fatal(err)
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		home := layout.AgencyHome(agencies, s.ID)
		own, err := keys.LoadPseudonymSecret(layout.HomePseudonymKey(home))
		if err != nil || !bytes.Equal(own, deployment) {
			t.Errorf("%s's pseudonym secret: %v, or another than the deployment's", s.ID, err)
		}
		// The directory speaks for the keys in the home.
		priv, err := keys.LoadSigningKey(filepath.Join(home, keys.SigningKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := d.Lookup(s.ID)
		if !a.SigningPublicKey().Equal(priv.Public()) {
			t.Errorf("%s: the directory's signing key is not the one in its home", s.ID)
		}
	}
	if _, err := provision.AddAgency(data, agencies, specs[0]); !errors.Is(err, directory.ErrExists) {
		t.Errorf("adding %s twice: %v, want directory.ErrExists", specs[0].ID, err)
	}
}

// The agencies' folder and the broker's must lie side by side.
func TestAddAgencyRefusesHomesInsideData(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	spec := provision.AgencySpec{ID: "polisen-syd", Kind: directory.KindPolice, Name: "Polisen"}
	for _, agencies := range []string{data, filepath.Join(data, "agencies"), filepath.Join(data, "x", ".."), root} {
		if _, err := provision.AddAgency(data, agencies, spec); err == nil || !strings.Contains(err.Error(), "side by side") {
			t.Errorf("AddAgency with agencies %s: %v, want a refusal", agencies, err)
		}
	}
	if _, err := os.Stat(layout.AgencyKeys(data, spec.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused agency left keys in the broker's folder: %v", err)
	}
	if _, err := provision.AddAgency(data, filepath.Join(root, "data-agencies"), spec); err != nil {
		t.Errorf("a sibling whose name starts like the data directory's: %v", err)
	}
}

func TestOpsToken(t *testing.T) {
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	path := layout.OpsToken(data)
	tok, err := provision.LoadOpsToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Errorf("token %d characters long, want 43 (32 bytes in base64url)", len(tok))
	}
	// An existing token is never replaced.
	if p, created, err := provision.EnsureOpsToken(data); err != nil || created || p != path {
		t.Fatalf("EnsureOpsToken on an initialised directory = %s, %v, %v", p, created, err)
	}
	if again, err := provision.LoadOpsToken(path); err != nil || again != tok {
		t.Fatalf("token changed: %q, %v", again, err)
	}

	// A data directory from before the dashboard gets one.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, created, err := provision.EnsureOpsToken(data); err != nil || !created {
		t.Fatalf("EnsureOpsToken on a directory without a token: created %v, %v", created, err)
	}
	if fresh, err := provision.LoadOpsToken(path); err != nil || fresh == tok {
		t.Fatalf("new token %q (%v) equals the removed one or does not load", fresh, err)
	}

	// Files others may read, and files without a token, are refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := provision.LoadOpsToken(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a token readable by others loaded: %v", err)
	}
	for _, bad := range []string{"", "short\n", "two words of a token here\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := provision.LoadOpsToken(path); err == nil {
			t.Errorf("token file %q loaded", bad)
		}
	}
	if _, err := provision.LoadOpsToken(filepath.Join(data, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing token file: %v", err)
	}
}
