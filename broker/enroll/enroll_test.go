package enroll

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

// newDirectoryFile writes a directory with only the broker in it.
func newDirectoryFile(t *testing.T) string {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(nil)
	id, _ := age.GenerateX25519Identity()
	d := &directory.Directory{Broker: directory.Broker{SigningKey: keys.FormatSigningPublicKey(pub), AgeRecipient: id.Recipient().String()}}
	path := filepath.Join(t.TempDir(), "directory.yaml")
	if err := directory.Write(path, d); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEnrollRotateRevoke(t *testing.T) {
	path := newDirectoryFile(t)
	agencyDir := filepath.Join(t.TempDir(), "polis") // the agency's machine, not the broker's
	facts := Facts{ID: "polis", Kind: directory.KindPolice, Name: "Polisen"}
	r, err := NewRequest(agencyDir, facts, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{keys.SigningKeyFile, keys.AgeKeyFile, keys.NKeyFile, RequestFile} {
		fi, err := os.Stat(filepath.Join(agencyDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want a 0600 file", f, err, fi.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(agencyDir, "pseudonym.key")); err == nil {
		t.Fatal("keygen created a pseudonym key")
	}
	loaded, err := Load(filepath.Join(agencyDir, RequestFile))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Apply(path, loaded, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := d.Lookup("polis")
	if !ok || len(a.Keys) != 1 || a.Keys[0].ID != r.Key.ID || a.Keys[0].NKey != r.Key.NKey {
		t.Fatalf("directory after enrollment: %+v", a)
	}
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("PRIVATE")) {
		t.Fatal("a private key reached the directory")
	}
	if _, err := Apply(path, loaded, t0.Add(time.Minute)); !errors.Is(err, ErrConflict) {
		t.Fatalf("enrolling twice: %v, want ErrConflict", err)
	}

	newDir := filepath.Join(t.TempDir(), "polis-2")
	rot, err := NewRotation("polis", agencyDir, newDir, true, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rot.Previous != r.Key.ID {
		t.Fatalf("rotation names previous key %s, want %s", rot.Previous, r.Key.ID)
	}
	if d, err = Apply(path, rot, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, _ = d.Lookup("polis")
	if len(a.Keys) != 2 || len(a.CurrentRecipients(t0.Add(2*time.Hour))) != 2 {
		t.Fatalf("after rotation: %d keys, %d current recipients; want both", len(a.Keys), len(a.CurrentRecipients(t0.Add(2*time.Hour))))
	}
	if _, err := Apply(path, rot, t0.Add(time.Hour)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a rotation replayed: %v, want ErrConflict", err)
	}

	if d, err = RevokeFile(path, "polis", r.Key.ID, "superseded", t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, _ = d.Lookup("polis")
	if _, err := a.KeyAt(r.Key.ID, t0.Add(3*time.Hour)); !errors.Is(err, directory.ErrKeyRevoked) {
		t.Fatalf("old key after revocation: %v", err)
	}
	if _, err := a.KeyAt(rot.Key.ID, t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("new key after revocation of the old: %v", err)
	}
	if _, err := RevokeFile(path, "polis", r.Key.ID, "again", t0.Add(4*time.Hour)); err == nil {
		t.Fatal("revoked a key twice")
	}
	// A rotation endorsed by the revoked key is refused.
	third := filepath.Join(t.TempDir(), "polis-3")
	late, err := NewRotation("polis", agencyDir, third, true, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(path, late, t0.Add(4*time.Hour)); !errors.Is(err, ErrNotEndorsed) || !errors.Is(err, directory.ErrKeyRevoked) {
		t.Fatalf("rotation endorsed by a revoked key: %v, want ErrNotEndorsed and ErrKeyRevoked", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	path := newDirectoryFile(t)
	d, err := directory.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "skolan")
	good, err := NewRequest(dir, Facts{ID: "skolan", Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Skolan"}, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(good, d, t0); err != nil {
		t.Fatalf("valid request: %v", err)
	}
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	own, err := keys.LoadSigningKey(filepath.Join(dir, keys.SigningKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		edit func(r *Request)
		want error
	}{
		"name changed after signing": {func(r *Request) { r.Agency.Name = "Polisen" }, ErrBadProof},
		"kind changed after signing": {func(r *Request) { r.Agency.Kind = directory.KindPolice; r.Agency.Operator = "" }, ErrBadProof},
		"someone else's key": {func(r *Request) {
			r.Key.SigningKey, r.Key.ID = keys.FormatSigningPublicKey(otherPub), directory.KeyID(otherPub)
		}, ErrBadProof},
		"signed by the wrong key": {func(r *Request) { _ = r.Sign(otherPriv, nil) }, ErrBadProof},
		"kid mismatch":            {func(r *Request) { r.Key.ID = "k-0000000000000000" }, ErrInvalid},
		"bad nkey":                {func(r *Request) { r.Key.NKey = "SUAAA" }, ErrInvalid},
		"future":                  {func(r *Request) { r.CreatedAt = t0.Add(time.Hour); _ = r.Sign(own, nil) }, ErrInvalid},
		"unknown type":            {func(r *Request) { r.Type = "replace" }, ErrInvalid},
		"rotation of a stranger":  {func(r *Request) { r.Type = TypeRotate; _ = r.Sign(own, own) }, ErrConflict},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := *good
			c.edit(&r)
			if err := Verify(&r, d, t0); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

func TestParseIsStrict(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "soc")
	if _, err := NewRequest(dir, Facts{ID: "soc", Kind: directory.KindSocialServices, Name: "Soc"}, false, t0); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, RequestFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil {
		t.Fatalf("Parse of a written request: %v", err)
	}
	for name, in := range map[string][]byte{
		"unknown field":  bytes.Replace(b, []byte(`"type"`), []byte(`"colour": "blue", "type"`), 1),
		"two objects":    append(bytes.Clone(b), b...),
		"too large":      append(bytes.Clone(b), bytes.Repeat([]byte(" "), MaxRequestSize)...),
		"not an object":  []byte(`[]`),
		"unknown in key": bytes.Replace(b, []byte(`"signing_key"`), []byte(`"private_key": "x", "signing_key"`), 1),
	} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Parse = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := NewRequest(dir, Facts{ID: "soc", Kind: directory.KindSocialServices, Name: "Soc"}, false, t0); err == nil ||
		!strings.Contains(err.Error(), "already holds") {
		t.Fatalf("keygen into a directory with keys: %v", err)
	}
}

// Facts the directory would refuse are refused before any key is written.
func TestNewRequestChecksFactsFirst(t *testing.T) {
	for _, f := range []Facts{
		{ID: "Polis.Syd", Kind: directory.KindPolice, Name: "Polisen"},
		{ID: "polis", Kind: "police-ish", Name: "Polisen"},
		{ID: "skolan", Kind: directory.KindSchool, Name: "Skolan"},
		{ID: "polis", Kind: directory.KindPolice},
	} {
		dir := filepath.Join(t.TempDir(), "agency")
		if _, err := NewRequest(dir, f, false, t0); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewRequest(%+v) = %v, want ErrInvalid", f, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("NewRequest(%+v) left %s behind: %v", f, dir, err)
		}
	}
}
