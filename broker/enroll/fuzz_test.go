package enroll

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
)

// FuzzParse: Parse never panics, and whatever it accepts writes back to a
// request that parses to the same signed bytes, so a proof checked once
// holds for every reader.
func FuzzParse(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "soc")
	if _, err := NewRequest(dir, Facts{ID: "soc", Kind: directory.KindSocialServices, Name: "Soc"}, false, t0); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, RequestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"type":"rotate","agency":{"id":"x"},"key":{},"created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Parse(in)
		if err != nil {
			return
		}
		body, err := r.signedBytes()
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed request: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a written request does not parse: %v\n%s", err, out)
		}
		body2, err := again.signedBytes()
		if err != nil || !bytes.Equal(body, body2) {
			t.Fatalf("signed bytes changed on a round trip:\n%s\n%s", body, body2)
		}
	})
}
