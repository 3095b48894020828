package envelope

import (
	"bytes"
	"errors"
	"testing"
)

// A recipient may open a payload on a statement that names the envelope's
// exact bytes, and only then.
func TestVouchedFor(t *testing.T) {
	x, _ := fixtures(t)
	b := seal(t, x, testHeader())

	e := mustParse(t, b)
	other := append([]byte(nil), b...)
	other[len(other)-1] ^= 1
	if err := e.VouchedFor(Hash(other)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VouchedFor(hash of other bytes) = %v, want ErrBadSignature", err)
	}
	if _, err := e.OpenPayload(x.recipientID); err == nil {
		t.Fatal("payload opened without a signature check or a statement for these bytes")
	}
	if err := e.VouchedFor(Hash(b)); err != nil {
		t.Fatalf("VouchedFor(Hash(raw)): %v", err)
	}
	payload, err := e.OpenPayload(x.recipientID)
	if err != nil || !bytes.Equal(payload, testPayload) {
		t.Fatalf("OpenPayload after VouchedFor = %q, %v", payload, err)
	}
	if err := (&Envelope{}).VouchedFor(Hash(nil)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("VouchedFor on an envelope not from Parse = %v", err)
	}
}
