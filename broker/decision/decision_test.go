package decision_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// Signature domains, spelled out here rather than taken from the package, so
// that a change to either label shows up as a failing test.
const (
	decisionDomain = "sekretessbroker decision v1\x00"
	envelopeDomain = "sekretessbroker envelope v1\x00"
)

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func record() *decision.Record {
	created := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	return &decision.Record{
		DecisionID: decision.NewID(), DecidedAt: time.Date(2026, 3, 4, 9, 30, 1, 0, time.UTC),
		InboundSeq: 42, MessageID: "0123456789abcdef0123456789abcdef",
		Sender: "rosengard-skola", Recipient: "soc-malmo", Kind: "concern_report",
		CreatedAt: &created, Category: "concern",
		Outcome: decision.Delivered, Rule: "R-CONCERN", Basis: "SoL 14 kap. 1 §",
		Obligations: []string{"within-consent-scope"}, Reasons: []string{"reporting duty"},
		PolicyRevision: "rev-1", InputSHA256: strings.Repeat("a", 64), EnvelopeSHA256: strings.Repeat("b", 64),
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	want := record()
	body, sig, err := decision.Sign(priv, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decision.Verify(pub, body, sig)
	if err != nil {
		t.Fatalf("Verify of a fresh signature: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the record:\n got %+v\nwant %+v", got, want)
	}
	if !got.Allowed() {
		t.Fatal("a delivered record is not Allowed")
	}
	// A rejected record round-trips too, and is not Allowed.
	rej := record()
	rej.Outcome, rej.Rule, rej.ErrorCode = decision.Rejected, "", "replay"
	body, sig, err = decision.Sign(priv, rej)
	if err != nil {
		t.Fatal(err)
	}
	got, err = decision.Verify(pub, body, sig)
	if err != nil || got.Allowed() || got.ErrorCode != "replay" {
		t.Fatalf("rejected record: %+v, %v", got, err)
	}
}

// TestChangedFieldFails: changing any field of the signed JSON, even to a
// value that still decodes, breaks the signature.
func TestChangedFieldFails(t *testing.T) {
	pub, priv := newKey(t)
	body, sig, err := decision.Sign(priv, record())
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(body, &fields); err != nil {
		t.Fatal(err)
	}
	changes := map[string]any{
		"outcome": decision.Rejected, "recipient": "polisen-syd", "sender": "soc-malmo",
		"inbound_seq": 43, "rule": "R-OTHER", "obligations": []string{}, "envelope_sha256": strings.Repeat("c", 64),
		"decided_at": "2026-03-04T09:30:02Z", "error_code": "policy_error",
	}
	for field, v := range changes {
		m := map[string]any{}
		for k, x := range fields {
			m[k] = x
		}
		m[field] = v
		changed, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decision.Verify(pub, changed, sig); !errors.Is(err, decision.ErrBadSignature) {
			t.Errorf("%s changed: Verify = %v, want ErrBadSignature", field, err)
		}
	}
	// A single flipped byte anywhere in the body.
	for i := range body {
		b := bytes.Clone(body)
		b[i] ^= 0x01
		if _, err := decision.Verify(pub, b, sig); !errors.Is(err, decision.ErrBadSignature) {
			t.Fatalf("byte %d flipped: Verify = %v, want ErrBadSignature", i, err)
		}
	}
	// Trailing bytes are a change too.
	if _, err := decision.Verify(pub, append(bytes.Clone(body), ' '), sig); !errors.Is(err, decision.ErrBadSignature) {
		t.Errorf("trailing space: Verify = %v", err)
	}
}

func TestOtherKeyFails(t *testing.T) {
	_, priv := newKey(t)
	other, _ := newKey(t)
	body, sig, err := decision.Sign(priv, record())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decision.Verify(other, body, sig); !errors.Is(err, decision.ErrBadSignature) {
		t.Fatalf("Verify with another broker's key = %v, want ErrBadSignature", err)
	}
}

// TestDomainSeparation: a signature by the broker's key over the same bytes,
// but not made as a decision signature, never verifies as one: not a bare
// signature of the JSON, not one in the envelope domain.
func TestDomainSeparation(t *testing.T) {
	pub, priv := newKey(t)
	body, good, err := decision.Sign(priv, record())
	if err != nil {
		t.Fatal(err)
	}
	// The expected domain is the one the package uses.
	if want := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, append([]byte(decisionDomain), body...))); want != good {
		t.Fatalf("decision signatures are not made over %q || body", decisionDomain)
	}
	for name, msg := range map[string][]byte{
		"no domain":          body,
		"envelope domain":    append([]byte(envelopeDomain), body...),
		"domain without NUL": append([]byte(strings.TrimSuffix(decisionDomain, "\x00")), body...),
		"domain after body":  append(bytes.Clone(body), decisionDomain...),
	} {
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))
		if _, err := decision.Verify(pub, body, sig); !errors.Is(err, decision.ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
}

// TestMalformedInput: what an agency finds in the decision headers of a
// delivery may be anything; each defect gets an error that says what is
// wrong, and never a record.
func TestMalformedInput(t *testing.T) {
	pub, priv := newKey(t)
	body, sig, err := decision.Sign(priv, record())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(sig)
	for name, tc := range map[string]struct {
		body []byte
		sig  string
		want string
	}{
		"empty signature":     {body, "", "not 64 bytes of base64"},
		"not base64":          {body, "!!" + sig[2:], "not 64 bytes of base64"},
		"url base64":          {body, base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 64)), "not 64 bytes of base64"},
		"short signature":     {body, base64.StdEncoding.EncodeToString(raw[:63]), "not 64 bytes of base64"},
		"long signature":      {body, base64.StdEncoding.EncodeToString(append(raw, 0)), "not 64 bytes of base64"},
		"empty body":          {nil, sig, "does not verify"},
		"zero signature":      {body, base64.StdEncoding.EncodeToString(make([]byte, 64)), "does not verify"},
		"header whitespace":   {body, " " + sig, "not 64 bytes of base64"},
		"signature of other":  {[]byte(`{"outcome":"delivered"}`), sig, "does not verify"},
		"truncated body JSON": {body[:len(body)-1], sig, "does not verify"},
	} {
		rec, err := decision.Verify(pub, tc.body, tc.sig)
		if rec != nil || !errors.Is(err, decision.ErrBadSignature) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Verify = %v, %v; want ErrBadSignature saying %q", name, rec, err, tc.want)
		}
	}
	// A validly signed body that is not a record: the signature is good, the
	// decoding error says so.
	notJSON := []byte("not json")
	s := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, append([]byte(decisionDomain), notJSON...)))
	rec, err := decision.Verify(pub, notJSON, s)
	if rec != nil || err == nil || errors.Is(err, decision.ErrBadSignature) || !strings.Contains(err.Error(), "does not decode") {
		t.Errorf("signed non-JSON: Verify = %v, %v", rec, err)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := decision.NewID()
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("NewID = %q, want 32 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}
