package envelope

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"filippo.io/age"
)

const testKid = "k-0123456789abcdef"

// sealTo seals a version 2 envelope to the broker and recipient keys of
// every fixture, as a sender does while both parties rotate.
func sealTo(t testing.TB, fs []fixture, h Header) []byte {
	t.Helper()
	var brokers, recipients []age.Recipient
	for _, f := range fs {
		brokers = append(brokers, f.broker)
		recipients = append(recipients, f.recipient)
	}
	b, err := SealTo(h, testMeta, brokers, testPayload, recipients, fs[0].priv)
	if err != nil {
		t.Fatalf("SealTo: %v", err)
	}
	return b
}

// rotated returns a fixture with the same signing key as f and new age
// keys of the same kind: f after a rotation of the age keys.
func rotated(t testing.TB, f fixture) fixture {
	t.Helper()
	n := f
	n.name += " rotated"
	if f.name == "hybrid" {
		b, _ := age.GenerateHybridIdentity()
		r, _ := age.GenerateHybridIdentity()
		n.brokerID, n.recipientID, n.broker, n.recipient = b, r, b.Recipient(), r.Recipient()
		return n
	}
	b, _ := age.GenerateX25519Identity()
	r, _ := age.GenerateX25519Identity()
	n.brokerID, n.recipientID, n.broker, n.recipient = b, r, b.Recipient(), r.Recipient()
	return n
}

func TestV2RoundTripToEveryKey(t *testing.T) {
	_, pq := fixtures(t)
	h := testHeader()
	h.Version, h.Kid = 0, testKid
	pq2 := rotated(t, pq)
	b := sealTo(t, []fixture{pq, pq2}, h)
	if b[3] != 2 {
		t.Fatalf("version byte %d, want 2 for a header with a kid", b[3])
	}
	// Each key alone opens both sections: nothing is lost while the old
	// and the new key are both in use.
	for _, f := range []fixture{pq, pq2} {
		e := mustParse(t, b)
		if e.Header.Version != 2 || e.Header.Kid != testKid {
			t.Fatalf("header = %+v", e.Header)
		}
		if err := e.Verify(f.pub); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		meta, err := e.OpenMeta(f.brokerID)
		if err != nil || !bytes.Equal(meta, testMeta) {
			t.Fatalf("%s: OpenMeta = %q, %v", f.name, meta, err)
		}
		payload, err := e.OpenPayload(f.recipientID)
		if err != nil || !bytes.Equal(payload, testPayload) {
			t.Fatalf("%s: OpenPayload = %q, %v", f.name, payload, err)
		}
	}
	// Several identities: any one that matches opens it.
	x, _ := fixtures(t)
	e := mustParse(t, seal(t, x, h))
	if err := e.Verify(x.pub); err != nil {
		t.Fatal(err)
	}
	if _, err := e.OpenMeta(pq.brokerID, x.brokerID); err != nil {
		t.Fatalf("OpenMeta with a matching second identity: %v", err)
	}
	if _, err := e.OpenMeta(pq.brokerID); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("OpenMeta with no matching identity: %v, want ErrWrongKey", err)
	}
	if _, err := e.OpenPayload(); err == nil || Code(err) != "internal" {
		t.Fatalf("OpenPayload without identities: %v", err)
	}
}

func TestSealToRefusesMixedKeyKinds(t *testing.T) {
	x, pq := fixtures(t)
	h := testHeader()
	_, err := SealTo(h, testMeta, []age.Recipient{x.broker}, testPayload, []age.Recipient{x.recipient, pq.recipient}, x.priv)
	if err == nil {
		t.Fatal("sealed one payload to a hybrid and an X25519 key")
	}
}

func TestV2SignatureIsBoundToVersion(t *testing.T) {
	x, _ := fixtures(t)
	h := testHeader()
	h.Version, h.Kid = 2, testKid
	v2 := mustParse(t, seal(t, x, h))
	// The same bytes signed under the version 1 label do not verify as
	// version 2: the label names the version.
	raw := v2.Raw()
	body := bytes.Clone(raw[:len(raw)-ed25519.SignatureSize])
	resigned := append(body, ed25519.Sign(x.priv, append([]byte(signatureLabel(1)), body...))...)
	if err := mustParse(t, resigned).Verify(x.pub); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a version 2 envelope signed under the v1 label verified: %v", err)
	}
	if err := v2.Verify(x.pub); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestV2HeaderRules(t *testing.T) {
	h := testHeader()
	h.Kid = testKid
	if err := h.Validate(); !errors.Is(err, ErrMalformed) {
		t.Errorf("kid in a version 1 header: %v, want ErrMalformed", err)
	}
	h.Version = 2
	if err := h.Validate(); err != nil {
		t.Errorf("valid version 2 header: %v", err)
	}
	for _, kid := range []string{"", "k-0123", "K-0123456789abcdef", "k-0123456789ABCDEF", "x-0123456789abcdef"} {
		h.Kid = kid
		if err := h.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("kid %q: %v, want ErrMalformed", kid, err)
		}
	}
}
