package decision

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
)

// fuzzKey is a fixed broker key, so that the checked-in seeds verify.
func fuzzKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("sekretessbroker fuzz broker key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// fuzzReceipts are real receipts: a delivery and a rejection.
func fuzzReceipts(t testing.TB) map[string][]any {
	t.Helper()
	created := time.Date(2026, 3, 4, 9, 59, 0, 0, time.UTC)
	records := map[string]*Record{
		"delivered": {
			DecisionID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", DecidedAt: time.Date(2026, 3, 4, 10, 0, 0, 123456789, time.UTC),
			InboundSeq: 42, MessageID: "01HV7Z3K6Q2W8N4T5Y9B0C1D2E", Sender: "rosengard-skola", Recipient: "soc-malmo",
			Kind: "concern_report", CreatedAt: &created, Category: "concern",
			Outcome: Delivered, Rule: "R-CONCERN", Basis: "SoL 14 kap. 1 §", Obligations: []string{"log_disclosure"},
			PolicyRevision: "rev-1", InputSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			EnvelopeSHA256: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		},
		"rejected": {
			DecisionID: "00000000000000000000000000000001", DecidedAt: time.Date(2026, 3, 4, 10, 0, 1, 0, time.FixedZone("CET", 3600)),
			InboundSeq: 43, Outcome: Rejected, Reasons: []string{"a health record needs consent", "ålder: 13 år"},
			ErrorCode: "policy_denied", EnvelopeSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		},
	}
	seeds := map[string][]any{
		"empty":       {[]byte{}, ""},
		"not-base64":  {[]byte(`{}`), "%%%"},
		"short-sig":   {[]byte(`{}`), base64.StdEncoding.EncodeToString(make([]byte, 63))},
		"zero-sig":    {[]byte(`{"outcome":"delivered"}`), base64.StdEncoding.EncodeToString(make([]byte, 64))},
		"not-json":    {[]byte("\xff\xfe"), ""},
		"deep-nested": {bytes.Repeat([]byte("["), 1000), ""},
	}
	for name, r := range records {
		body, sig, err := Sign(fuzzKey(), r)
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = []any{body, sig}
	}
	return seeds
}

func TestFuzzCorpus(t *testing.T) {
	seeds := fuzzReceipts(t)
	fuzzcorpus.Check(t, "FuzzVerify", seeds)
	tamper := map[string][]any{}
	for _, name := range []string{"delivered", "rejected"} {
		s := seeds[name]
		n := uint32(len(s[0].([]byte)) + len(s[1].(string)))
		tamper[name+"-first"] = []any{name == "rejected", uint32(0), byte('x')}
		tamper[name+"-last"] = []any{name == "rejected", n - 1, byte('A')}
		tamper[name+"-sig-padding"] = []any{name == "rejected", n - 3, byte('B')}
	}
	fuzzcorpus.Check(t, "FuzzReceiptTamper", tamper)
}

// Found by FuzzVerify: the last character before "==" carries two unused
// bits, which the lenient base64 decoder ignored.
func TestVerifyRejectsNonCanonicalSignature(t *testing.T) {
	priv := fuzzKey()
	body, sig, err := Sign(priv, &Record{DecisionID: "1", Outcome: Rejected})
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	if _, err := Verify(pub, body, sig); err != nil {
		t.Fatalf("canonical signature: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(sig)
	alt := []byte(sig)
	// Flip the lowest bit of the last data character's value, which is unused.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	alt[len(alt)-3] = alphabet[strings.IndexByte(alphabet, alt[len(alt)-3])^1]
	if b, _ := base64.StdEncoding.DecodeString(string(alt)); !bytes.Equal(b, raw) {
		t.Fatal("test is wrong: the changed character changes the signature bytes")
	}
	for _, bad := range []string{string(alt), sig[:40] + "\n" + sig[40:], sig + "\r\n"} {
		if _, err := Verify(pub, body, bad); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("non-canonical signature %q: got %v, want ErrBadSignature", bad, err)
		}
	}
}

// FuzzVerify feeds Verify arbitrary receipts (the body and the signature
// header). A receipt that verifies must have the one canonical signature
// encoding, must re-sign to a receipt that decodes to the same record, and
// must stop verifying after any bit of it is flipped.
func FuzzVerify(f *testing.F) {
	priv := fuzzKey()
	pub := priv.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		r, err := Verify(pub, body, sig)
		if err != nil {
			if r != nil {
				t.Fatal("Verify returned a record with an error")
			}
			return
		}
		raw, _ := base64.StdEncoding.DecodeString(sig)
		if base64.StdEncoding.EncodeToString(raw) != sig {
			t.Fatalf("signature %q verifies but is not in canonical base64", sig)
		}
		b1, s1, err := Sign(priv, r)
		if err != nil {
			t.Fatalf("a verified record does not re-sign: %v", err)
		}
		r2, err := Verify(pub, b1, s1)
		if err != nil {
			t.Fatalf("a re-signed record does not verify: %v", err)
		}
		b2, _ := json.Marshal(r2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("record does not re-encode stably:\n%s\n%s", b1, b2)
		}
		for i := range len(body) * 8 {
			bad := bytes.Clone(body)
			bad[i/8] ^= 1 << (i % 8)
			if _, err := Verify(pub, bad, sig); err == nil {
				t.Fatalf("body with bit %d flipped still verifies", i)
			}
		}
		for i := range len(sig) * 8 {
			bad := []byte(sig)
			bad[i/8] ^= 1 << (i % 8)
			if _, err := Verify(pub, body, string(bad)); err == nil {
				t.Fatalf("signature %q with bit %d flipped (%q) still verifies", sig, i, bad)
			}
		}
	})
}

// FuzzReceiptTamper replaces one byte of a real receipt (body then
// signature) with another value: the result must never verify.
func FuzzReceiptTamper(f *testing.F) {
	priv := fuzzKey()
	pub := priv.Public().(ed25519.PublicKey)
	seeds := fuzzReceipts(f)
	f.Fuzz(func(t *testing.T, rejected bool, pos uint32, val byte) {
		s := seeds["delivered"]
		if rejected {
			s = seeds["rejected"]
		}
		body, sig := bytes.Clone(s[0].([]byte)), []byte(s[1].(string))
		p := int(pos % uint32(len(body)+len(sig)))
		var at *byte
		if p < len(body) {
			at = &body[p]
		} else {
			at = &sig[p-len(body)]
		}
		if *at == val {
			return
		}
		*at = val
		if _, err := Verify(pub, body, string(sig)); err == nil {
			t.Fatalf("receipt with byte %d changed to %q still verifies", p, val)
		}
	})
}
