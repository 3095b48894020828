package keys

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/nats-io/nkeys"
)

func checkMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("%s has mode %#o, want 0600", path, m)
	}
}

func checkNoOverwrite(t *testing.T, path string, write func() error) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = write()
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write = %v, want an error wrapping fs.ErrExist", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("existing key file was modified")
	}
}

func TestSigningKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dir", "signing.pem")
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSigningKey(path, priv); err != nil {
		t.Fatal(err)
	}
	checkMode(t, path)
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("parent directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("file is not a PKCS#8 PEM block:\n%s", data)
	}
	got, err := LoadSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) || !got.Public().(ed25519.PublicKey).Equal(pub) {
		t.Error("loaded key differs from written key")
	}
	_, other, _ := ed25519.GenerateKey(nil)
	checkNoOverwrite(t, path, func() error { return WriteSigningKey(path, other) })

	if err := WriteSigningKey(filepath.Join(dir, "short.pem"), priv[:32]); err == nil {
		t.Error("32-byte private key accepted")
	}
}

func TestLoadSigningKeyErrors(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(nil)
	good := filepath.Join(dir, "good.pem")
	if err := WriteSigningKey(good, priv); err != nil {
		t.Fatal(err)
	}
	goodData, _ := os.ReadFile(good)
	// A P-256 key in PKCS#8, as "openssl genpkey -algorithm EC" writes it.
	const ecKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSz1PoRkAtH0lf2mN
wq1QU+oCZtRZEn7WJTbeFCH6kmChRANCAATtKyOclNtVGHpYN5Ftgn8VIk8PYq2O
ioSmIsbymO5sYjUxStBGAxmWrPqpKx1/Yt3BazxuolEQSbgvEQzEGgYw
-----END PRIVATE KEY-----
`
	for name, data := range map[string]string{
		"empty":        "",
		"not PEM":      "hello\n",
		"wrong type":   strings.ReplaceAll(string(goodData), "PRIVATE KEY", "ED25519 PRIVATE KEY"),
		"two blocks":   string(goodData) + string(goodData),
		"not PKCS#8":   "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		"P-256 key":    ecKey,
		"huge":         strings.Repeat("#", maxKeyFileSize+1),
		"age identity": "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(data), 0o600)
		if _, err := LoadSigningKey(path); err == nil {
			t.Errorf("%s: LoadSigningKey succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := LoadSigningKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestSigningPublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	s := FormatSigningPublicKey(pub)
	if !strings.HasPrefix(s, "ed25519:") || len(s) != len("ed25519:")+44 {
		t.Errorf("FormatSigningPublicKey = %q", s)
	}
	got, err := ParseSigningPublicKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(pub) {
		t.Error("round trip changed the key")
	}
	b64 := strings.TrimPrefix(s, "ed25519:")
	for _, bad := range []string{
		"",
		b64,
		"ED25519:" + b64,
		"ed25519: " + b64[1:],
		"ed25519:" + b64[:43],
		"ed25519:" + b64 + "=",
		"ed25519:" + b64[:20] + "\n" + b64[21:],
		"ed25519:" + strings.TrimRight(b64, "=") + "A",                          // no padding
		"ed25519:" + b64[:42] + "B=",                                            // non-canonical trailing bits
		"ed25519:" + strings.NewReplacer("+", "-", "/", "_").Replace(b64) + "!", // URL alphabet, garbage
		"ed25519:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",          // 37 bytes
	} {
		if _, err := ParseSigningPublicKey(bad); err == nil {
			t.Errorf("ParseSigningPublicKey(%q) succeeded", bad)
		}
	}
}

func TestAgeIdentity(t *testing.T) {
	for _, hybrid := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "age", "identity.txt")
		rcpt, err := WriteAgeIdentity(path, hybrid)
		if err != nil {
			t.Fatal(err)
		}
		wantPrefix := "age1"
		if hybrid {
			wantPrefix = "age1pq1"
		}
		if !strings.HasPrefix(rcpt, wantPrefix) || (!hybrid && strings.HasPrefix(rcpt, "age1pq1")) {
			t.Errorf("hybrid=%v: recipient %.20q…", hybrid, rcpt)
		}
		checkMode(t, path)
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "# created: ") ||
			lines[1] != "# public key: "+rcpt || !strings.HasPrefix(lines[2], "AGE-SECRET-KEY-") {
			t.Errorf("file is not in age-keygen format:\n%s", data)
		}

		id, err := LoadAgeIdentity(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseAgeRecipient(rcpt)
		if err != nil {
			t.Fatal(err)
		}
		if hybrid {
			if _, ok := r.(*age.HybridRecipient); !ok {
				t.Errorf("ParseAgeRecipient returned %T, want *age.HybridRecipient", r)
			}
		}
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, r)
		w.Write([]byte("hej"))
		w.Close()
		pr, err := age.Decrypt(&buf, id)
		if err != nil {
			t.Fatalf("hybrid=%v: loaded identity does not match recipient: %v", hybrid, err)
		}
		if got, _ := bytes.NewBuffer(nil).ReadFrom(pr); got != 3 {
			t.Errorf("decrypted %d bytes, want 3", got)
		}

		checkNoOverwrite(t, path, func() error {
			_, err := WriteAgeIdentity(path, hybrid)
			return err
		})
	}
}

func TestLoadAgeIdentityErrors(t *testing.T) {
	dir := t.TempDir()
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateHybridIdentity()
	for name, data := range map[string]string{
		"empty":         "",
		"comments only": "# created: 2026-01-01T00:00:00Z\n",
		"two":           a.String() + "\n" + b.String() + "\n",
		"recipient":     a.Recipient().String() + "\n",
		"garbage":       "AGE-SECRET-KEY-1NOPE\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(data), 0o600)
		if _, err := LoadAgeIdentity(path); err == nil {
			t.Errorf("%s: LoadAgeIdentity succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func TestParseAgeRecipient(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateHybridIdentity()
	for _, ok := range []string{a.Recipient().String(), b.Recipient().String()} {
		if _, err := ParseAgeRecipient(ok); err != nil {
			t.Errorf("ParseAgeRecipient(%.20q…): %v", ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"# comment",
		"age1",
		a.String(),
		a.Recipient().String() + "\n" + b.Recipient().String(),
		a.Recipient().String() + "\n",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN",
		"ed25519:" + strings.Repeat("A", 43) + "=",
	} {
		if _, err := ParseAgeRecipient(bad); err == nil {
			t.Errorf("ParseAgeRecipient(%q) succeeded", bad)
		}
	}
}

func TestNKeySeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nats", "user.nk")
	pub, err := WriteNKeySeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		t.Errorf("public key %q is not a user key", pub)
	}
	checkMode(t, path)
	seed, gotPub, err := LoadNKeySeed(path)
	if err != nil {
		t.Fatal(err)
	}
	if gotPub != pub || !bytes.HasPrefix(seed, []byte("SU")) {
		t.Errorf("LoadNKeySeed = %q, %q; want a SU… seed for %q", seed, gotPub, pub)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := kp.PublicKey(); p != pub {
		t.Error("seed does not match the public key")
	}
	checkNoOverwrite(t, path, func() error {
		_, err := WriteNKeySeed(path)
		return err
	})
}

func TestLoadNKeySeedErrors(t *testing.T) {
	dir := t.TempDir()
	acct, _ := nkeys.CreateAccount()
	acctSeed, _ := acct.Seed()
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	for name, data := range map[string]string{
		"empty":        "",
		"garbage":      "SUNOPE\n",
		"account seed": string(acctSeed) + "\n",
		"public key":   userPub + "\n",
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(path, []byte(data), 0o600)
		if _, _, err := LoadNKeySeed(path); err == nil {
			t.Errorf("%s: LoadNKeySeed succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
