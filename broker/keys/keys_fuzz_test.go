package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/nats-io/nkeys"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
)

// Fixed test identities, so that the checked-in seeds stay valid.
const (
	fuzzX25519Identity = "AGE-SECRET-KEY-12FNETQMYPY2Y2V9WS5PVCGC9PC8SZMAURK4TFX9WGQP4QY5NSQNQC24U33"
	fuzzHybridIdentity = "AGE-SECRET-KEY-PQ-1QP5Y0V2TN540S4298EPSEH895Q6Q7YFJDUUSHWPMTN89KS370YAQC4L7HS"
)

func fuzzSeed(label string) []byte {
	s := sha256.Sum256([]byte("sekretessbroker fuzz " + label))
	return s[:]
}

// fuzzFile writes b to a file in dir and returns its path; each fuzz worker
// runs its inputs one at a time, so one file per target is enough.
func fuzzFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fuzzAuditKey(t testing.TB) (skey, vkey string) {
	t.Helper()
	a, b := fuzzSeed("audit key"), fuzzSeed("audit key 2")
	skey, vkey, err := note.GenerateKey(bytes.NewReader(append(a, b...)), AuditKeyName)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey
}

func TestFuzzCorpus(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(fuzzSeed("signing key"))
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	signing := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pkix, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	fuzzcorpus.Check(t, "FuzzSigningKey", map[string][]any{
		"pkcs8":        {signing},
		"public-pem":   {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})},
		"two-blocks":   {append(bytes.Clone(signing), signing...)},
		"headers":      {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: der})},
		"truncated":    {signing[:len(signing)/2]},
		"empty":        {[]byte{}},
		"garbage-der":  {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff}})},
		"leading-text": {append([]byte("key:\n"), signing...)},
	})

	pub := FormatSigningPublicKey(priv.Public().(ed25519.PublicKey))
	fuzzcorpus.Check(t, "FuzzSigningPublicKey", map[string][]any{
		"key":       {pub},
		"no-prefix": {strings.TrimPrefix(pub, signingPublicKeyPrefix)},
		"newline":   {pub[:20] + "\n" + pub[21:]},
		"url-safe":  {strings.NewReplacer("+", "-", "/", "_").Replace(pub)},
		"empty":     {""},
	})

	hybrid, err := age.ParseHybridIdentity(fuzzHybridIdentity)
	if err != nil {
		t.Fatal(err)
	}
	x, err := age.ParseX25519Identity(fuzzX25519Identity)
	if err != nil {
		t.Fatal(err)
	}
	xr, hr := x.Recipient().String(), hybrid.Recipient().String()
	fuzzcorpus.Check(t, "FuzzAgeRecipients", map[string][]any{
		"x25519":     {[]byte(xr)},
		"hybrid":     {[]byte(hr)},
		"file":       {[]byte("# auditors\n" + xr + "\n\n  " + hr + "  \n# end\n")},
		"upper":      {[]byte(strings.ToUpper(xr))},
		"identity":   {[]byte(fuzzX25519Identity)},
		"crlf":       {[]byte(xr + "\r\n" + xr + "\r\n")},
		"ssh":        {[]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")},
		"bad-bech32": {[]byte(xr[:len(xr)-1] + "q")},
	})
	fuzzcorpus.Check(t, "FuzzAgeIdentity", map[string][]any{
		"x25519":    {[]byte("# created: 2026-11-02T10:00:00Z\n# public key: " + xr + "\n" + fuzzX25519Identity + "\n")},
		"hybrid":    {[]byte("# created: 2026-11-02T10:00:00Z\n# public key: " + hr + "\n" + fuzzHybridIdentity + "\n")},
		"two":       {[]byte(fuzzX25519Identity + "\n" + fuzzHybridIdentity + "\n")},
		"recipient": {[]byte(xr + "\n")},
		"plugin":    {[]byte("AGE-PLUGIN-YUBIKEY-1QQQQQQ\n")},
		"empty":     {[]byte{}},
	})

	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, fuzzSeed("nkey"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := nkeys.FromRawSeed(nkeys.PrefixByteAccount, fuzzSeed("account"))
	if err != nil {
		t.Fatal(err)
	}
	aseed, err := acct.Seed()
	if err != nil {
		t.Fatal(err)
	}
	upub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	fuzzcorpus.Check(t, "FuzzNKeySeed", map[string][]any{
		"user":    {append(bytes.Clone(seed), '\n')},
		"account": {aseed},
		"public":  {[]byte(upub)},
		"short":   {seed[:10]},
		"empty":   {[]byte{}},
	})

	skey, vkey := fuzzAuditKey(t)
	fuzzcorpus.Check(t, "FuzzPseudonymKey", map[string][]any{
		"key":       {[]byte(pseudonymKeyPrefix + strings.Repeat("5a", 32) + "\n")},
		"upper-hex": {[]byte(pseudonymKeyPrefix + strings.Repeat("5A", 32))},
		"short":     {[]byte(pseudonymKeyPrefix + "00")},
		"no-prefix": {[]byte(strings.Repeat("00", 32))},
		"crlf":      {[]byte(pseudonymKeyPrefix + strings.Repeat("01", 32) + "\r\n")},
		"empty":     {[]byte{}},
	})
	fuzzcorpus.Check(t, "FuzzAuditKey", map[string][]any{
		"private": {[]byte(skey + "\n")},
		"public":  {[]byte(vkey + "\n")},
		"other":   {[]byte("PRIVATE+KEY+other+00000000+AQ==\n")},
		"empty":   {[]byte{}},
	})
}

// FuzzSigningKey loads arbitrary signing key files. A key that loads must
// sign what its public key verifies, and write and load back unchanged.
func FuzzSigningKey(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		priv, err := LoadSigningKey(fuzzFile(t, dir, "signing.key", b))
		if err != nil {
			return
		}
		if len(priv) != ed25519.PrivateKeySize {
			t.Fatalf("key of %d bytes loads", len(priv))
		}
		msg := []byte("sekretessbroker")
		if !ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, ed25519.Sign(priv, msg)) {
			t.Fatal("a loaded key does not sign what its public key verifies")
		}
		again := filepath.Join(dir, "again.key")
		os.Remove(again)
		if err := WriteSigningKey(again, priv); err != nil {
			t.Fatal(err)
		}
		priv2, err := LoadSigningKey(again)
		if err != nil || !priv2.Equal(priv) {
			t.Fatalf("key does not load back after writing (%v)", err)
		}
	})
}

// FuzzSigningPublicKey parses arbitrary public key texts: one that parses
// must be in the one form FormatSigningPublicKey writes.
func FuzzSigningPublicKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParseSigningPublicKey(s)
		if err != nil {
			return
		}
		if got := FormatSigningPublicKey(pub); got != s {
			t.Fatalf("ParseSigningPublicKey(%q) parses, but the key's form is %q", s, got)
		}
	})
}

// FuzzAgeRecipients parses arbitrary text as one recipient and as an
// auditors file. A recipient that parses must be in its one canonical form;
// a file that loads must hold one recipient per line that is neither blank
// nor a comment.
func FuzzAgeRecipients(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseAgeRecipient(string(b)); err == nil {
			s, ok := r.(fmt.Stringer)
			if !ok || s.String() != string(b) {
				t.Fatalf("age recipient %q parses but is not in canonical form", b)
			}
		}
		rs, err := LoadAgeRecipients(fuzzFile(t, dir, "auditors.txt", b))
		if err != nil {
			return
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				n++
			}
		}
		if len(rs) != n {
			t.Fatalf("%d recipients from %d recipient lines", len(rs), n)
		}
	})
}

// FuzzAgeIdentity loads arbitrary age identity files. An identity that
// loads must decrypt what is encrypted to its recipient.
func FuzzAgeIdentity(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := LoadAgeIdentity(fuzzFile(t, dir, "age.key", b))
		if err != nil {
			return
		}
		var r age.Recipient
		switch id := id.(type) {
		case *age.X25519Identity:
			r = id.Recipient()
		case *age.HybridIdentity:
			r = id.Recipient()
		default:
			t.Fatalf("identity of type %T loads: only X25519 and hybrid identities are used", id)
		}
		var ct bytes.Buffer
		w, err := age.Encrypt(&ct, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, "sekretessbroker"); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		pr, err := age.Decrypt(&ct, id)
		if err != nil {
			t.Fatalf("a loaded identity does not decrypt for its recipient: %v", err)
		}
		if got, err := io.ReadAll(pr); err != nil || string(got) != "sekretessbroker" {
			t.Fatalf("decrypted %q, %v", got, err)
		}
	})
}

// FuzzNKeySeed loads arbitrary NATS seed files. A seed that loads must be a
// user's, and sign what its public key verifies.
func FuzzNKeySeed(f *testing.F) {
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		seed, pub, err := LoadNKeySeed(fuzzFile(t, dir, "nats.nk", b))
		if err != nil {
			return
		}
		if !strings.HasPrefix(pub, "U") || !nkeys.IsValidPublicUserKey(pub) {
			t.Fatalf("seed loads with public key %q, not a user's", pub)
		}
		kp, err := nkeys.FromSeed(seed)
		if err != nil {
			t.Fatalf("a loaded seed does not make a key pair: %v", err)
		}
		sig, err := kp.Sign([]byte("nonce"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := nkeys.FromPublicKey(pub)
		if err != nil || v.Verify([]byte("nonce"), sig) != nil {
			t.Fatalf("the public key does not verify the seed's signature (%v)", err)
		}
	})
}

// FuzzAuditKey loads arbitrary files as the audit signing key (with the
// real public key) and as the audit public key. A signing key that loads
// must sign notes the public key verifies.
func FuzzAuditKey(f *testing.F) {
	dir := f.TempDir()
	_, vkey := fuzzAuditKey(f)
	pubPath := filepath.Join(dir, "audit.pub")
	if err := os.WriteFile(pubPath, []byte(vkey+"\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	want, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := fuzzFile(t, dir, "audit.key", b)
		if v, err := LoadAuditVerifier(path); err == nil && v.Name() == "" {
			t.Fatal("an audit public key without a name loads")
		}
		s, got, err := LoadAuditKey(path, pubPath)
		if err != nil {
			return
		}
		if got != vkey {
			t.Fatalf("LoadAuditKey returned public key %q, want %q", got, vkey)
		}
		msg, err := note.Sign(&note.Note{Text: "sekretessbroker\n"}, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(msg, note.VerifierList(want)); err != nil {
			t.Fatalf("a loaded audit key signs a note its public key does not verify: %v", err)
		}
	})
}

// FuzzPseudonymKey parses arbitrary pseudonym key files. A key that parses
// must be 32 bytes and parse again from the form WritePseudonymKey writes.
func FuzzPseudonymKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		secret, err := parsePseudonymKey(b)
		if err != nil {
			return
		}
		if len(secret) != 32 {
			t.Fatalf("key of %d bytes parses", len(secret))
		}
		again, err := parsePseudonymKey([]byte(pseudonymKeyPrefix + hex.EncodeToString(secret) + "\n"))
		if err != nil || !bytes.Equal(again, secret) {
			t.Fatalf("the key does not parse from its written form (%v)", err)
		}
	})
}
