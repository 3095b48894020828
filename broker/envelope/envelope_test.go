package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

type fixture struct {
	name                  string
	brokerID, recipientID age.Identity
	broker, recipient     age.Recipient
	pub                   ed25519.PublicKey
	priv                  ed25519.PrivateKey
}

var (
	fixturesOnce sync.Once
	fixturesX    fixture // X25519 identities
	fixturesPQ   fixture // hybrid ML-KEM-768 + X25519 identities
)

func fixtures(t testing.TB) (x, pq fixture) {
	t.Helper()
	fixturesOnce.Do(func() {
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			panic(err)
		}
		bx, _ := age.GenerateX25519Identity()
		rx, _ := age.GenerateX25519Identity()
		bpq, err := age.GenerateHybridIdentity()
		if err != nil {
			panic(err)
		}
		rpq, _ := age.GenerateHybridIdentity()
		fixturesX = fixture{"X25519", bx, rx, bx.Recipient(), rx.Recipient(), pub, priv}
		fixturesPQ = fixture{"hybrid", bpq, rpq, bpq.Recipient(), rpq.Recipient(), pub, priv}
	})
	return fixturesX, fixturesPQ
}

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func testHeader() Header {
	return Header{
		Version:   1,
		ID:        "00112233445566778899aabbccddeeff",
		From:      "polis-stockholm",
		To:        "socialtjansten-solna",
		Kind:      "concern_report",
		CreatedAt: testTime,
	}
}

var (
	testMeta    = []byte(`{"legal_basis":"SoL 14:1","subject_age":14}`)
	testPayload = []byte("Orosanmälan: ...")
)

func seal(t testing.TB, f fixture, h Header) []byte {
	t.Helper()
	b, err := Seal(h, testMeta, f.broker, testPayload, f.recipient, f.priv)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return b
}

func mustParse(t testing.TB, b []byte) *Envelope {
	t.Helper()
	e, err := Parse(b, 0)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	x, pq := fixtures(t)
	for _, f := range []fixture{x, pq} {
		t.Run(f.name, func(t *testing.T) {
			h := testHeader()
			h.ReplyTo = NewID()
			b := seal(t, f, h)
			e := mustParse(t, b)
			if e.Header != h {
				t.Errorf("header = %+v, want %+v", e.Header, h)
			}
			if !bytes.Equal(e.Raw(), b) {
				t.Error("Raw differs from the sealed bytes")
			}
			if err := e.Verify(f.pub); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := e.CheckTime(testTime.Add(time.Minute), 5*time.Minute); err != nil {
				t.Errorf("CheckTime: %v", err)
			}
			meta, err := e.OpenMeta(f.brokerID)
			if err != nil {
				t.Fatalf("OpenMeta: %v", err)
			}
			if !bytes.Equal(meta, testMeta) {
				t.Errorf("meta = %q, want %q", meta, testMeta)
			}
			payload, err := e.OpenPayload(f.recipientID)
			if err != nil {
				t.Fatalf("OpenPayload: %v", err)
			}
			if !bytes.Equal(payload, testPayload) {
				t.Errorf("payload = %q, want %q", payload, testPayload)
			}

			// The broker must not be able to read the payload, nor the
			// recipient the policy metadata.
			if _, err := e.OpenPayload(f.brokerID); !errors.Is(err, ErrWrongKey) {
				t.Errorf("OpenPayload with the broker identity: %v, want ErrWrongKey", err)
			}
			if _, err := e.OpenMeta(f.recipientID); !errors.Is(err, ErrWrongKey) {
				t.Errorf("OpenMeta with the recipient identity: %v, want ErrWrongKey", err)
			}
		})
	}
}

func TestEmptyContents(t *testing.T) {
	x, _ := fixtures(t)
	b, err := Seal(testHeader(), nil, x.broker, nil, x.recipient, x.priv)
	if err != nil {
		t.Fatal(err)
	}
	e := mustParse(t, b)
	if err := e.Verify(x.pub); err != nil {
		t.Fatal(err)
	}
	if m, err := e.OpenMeta(x.brokerID); err != nil || len(m) != 0 {
		t.Errorf("OpenMeta = %q, %v; want empty", m, err)
	}
	if p, err := e.OpenPayload(x.recipientID); err != nil || len(p) != 0 {
		t.Errorf("OpenPayload = %q, %v; want empty", p, err)
	}
}

func TestSealDefaults(t *testing.T) {
	x, _ := fixtures(t)
	h := testHeader()
	h.Version = 0
	h.CreatedAt = testTime.In(time.FixedZone("CET", 3600))
	e := mustParse(t, seal(t, x, h))
	if e.Header.Version != 1 {
		t.Errorf("Version = %d, want 1", e.Header.Version)
	}
	if !e.Header.CreatedAt.Equal(testTime) || e.Header.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v", e.Header.CreatedAt, testTime)
	}
}

func TestSealErrors(t *testing.T) {
	x, _ := fixtures(t)
	h := testHeader()
	if _, err := Seal(h, nil, nil, nil, x.recipient, x.priv); err == nil {
		t.Error("nil broker recipient accepted")
	}
	if _, err := Seal(h, nil, x.broker, nil, nil, x.priv); err == nil {
		t.Error("nil recipient accepted")
	}
	if _, err := Seal(h, nil, x.broker, nil, x.recipient, x.priv[:32]); err == nil {
		t.Error("short signer accepted")
	}
	h.Kind = "Request"
	if _, err := Seal(h, nil, x.broker, nil, x.recipient, x.priv); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad kind: %v, want ErrMalformed", err)
	}
}

func TestValidate(t *testing.T) {
	ok := testHeader()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid header: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Header)
	}{
		{"v", func(h *Header) { h.Version = 3 }},
		{"v", func(h *Header) { h.Version = 0 }},
		{"id", func(h *Header) { h.ID = "" }},
		{"id", func(h *Header) { h.ID = strings.ToUpper(h.ID) }},
		{"id", func(h *Header) { h.ID = h.ID[:31] }},
		{"id", func(h *Header) { h.ID += "0" }},
		{"id", func(h *Header) { h.ID = "0011223344556677889xaabbccddeeff" }},
		{"from", func(h *Header) { h.From = "" }},
		{"from", func(h *Header) { h.From = "a" }},
		{"from", func(h *Header) { h.From = "-polis" }},
		{"from", func(h *Header) { h.From = "Polis" }},
		{"from", func(h *Header) { h.From = "polis_sthlm" }},
		{"from", func(h *Header) { h.From = strings.Repeat("a", 64) }},
		{"from", func(h *Header) { h.From = "polis\n" }},
		{"to", func(h *Header) { h.To = "skola/1" }},
		{"kind", func(h *Header) { h.Kind = "" }},
		{"kind", func(h *Header) { h.Kind = "_request" }},
		{"kind", func(h *Header) { h.Kind = "request-1" }},
		{"kind", func(h *Header) { h.Kind = strings.Repeat("a", 33) }},
		{"created_at", func(h *Header) { h.CreatedAt = time.Time{} }},
		{"created_at", func(h *Header) { h.CreatedAt = testTime.In(time.FixedZone("CET", 3600)) }},
		{"reply_to", func(h *Header) { h.ReplyTo = "x" }},
	}
	for _, tt := range tests {
		h := testHeader()
		tt.edit(&h)
		err := h.Validate()
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: Validate = %v, want ErrMalformed", h, err)
			continue
		}
		if !strings.Contains(err.Error(), "header "+tt.field+" ") {
			t.Errorf("%+v: error %q does not name field %q", h, err, tt.field)
		}
	}
	h := testHeader()
	h.From = strings.Repeat("a", 63)
	if err := h.Validate(); err != nil {
		t.Errorf("63-character agency id rejected: %v", err)
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if !idRE.MatchString(a) || a == b {
		t.Errorf("NewID = %q, %q", a, b)
	}
}

// build assembles an envelope from raw sections, to construct inputs that
// Seal refuses to produce. The signature is valid unless sig is non-nil.
func build(priv ed25519.PrivateKey, version byte, hdr, meta, payload, sig []byte) []byte {
	var b []byte
	b = append(b, "SKB"...)
	b = append(b, version)
	b = binary.BigEndian.AppendUint16(b, uint16(len(hdr)))
	b = append(b, hdr...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(meta)))
	b = append(b, meta...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	if sig == nil {
		sig = ed25519.Sign(priv, append([]byte(signatureLabel(version)), b...))
	}
	return append(b, sig...)
}

func TestParseErrors(t *testing.T) {
	x, _ := fixtures(t)
	valid := seal(t, x, testHeader())
	e := mustParse(t, valid)
	hdr, _ := json.Marshal(testHeader())
	withHeader := func(s string) []byte {
		return build(x.priv, 1, []byte(s), e.Meta, e.Payload, nil)
	}
	okHeader := string(hdr)
	replace := func(old, new string) []byte {
		if !strings.Contains(okHeader, old) {
			t.Fatalf("header %s lacks %q", okHeader, old)
		}
		return withHeader(strings.Replace(okHeader, old, new, 1))
	}

	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, 0, ErrTruncated},
		{"too large", valid, len(valid) - 1, ErrTooLarge},
		{"too large default", append(bytes.Clone(valid), make([]byte, DefaultMaxSize)...), 0, ErrTooLarge},
		{"bad magic", append([]byte("SKX"), valid[3:]...), 0, ErrMalformed},
		{"bad magic short", []byte("X"), 0, ErrMalformed},
		{"age file", []byte("age-encryption.org/v1\n"), 0, ErrMalformed},
		{"version 0", append([]byte("SKB\x00"), valid[4:]...), 0, ErrUnknownVersion},
		{"version 3", append([]byte("SKB\x03"), valid[4:]...), 0, ErrUnknownVersion},
		{"v1 header in version 2", append([]byte("SKB\x02"), valid[4:]...), 0, ErrMalformed},
		{"header length 0", append([]byte("SKB\x01\x00\x00"), valid[6:]...), 0, ErrMalformed},
		{"header length 4097", append([]byte("SKB\x01\x10\x01"), valid[6:]...), 0, ErrMalformed},
		{"header too long", withHeader(okHeader[:len(okHeader)-1] + `,"x":"` + strings.Repeat("a", 4096) + `"}`), 0, ErrMalformed},
		{"header unknown field", withHeader(okHeader[:len(okHeader)-1] + `,"priority":1}`), 0, ErrMalformed},
		{"header field case", replace(`"kind"`, `"Kind"`), 0, ErrMalformed},
		{"header duplicate field", withHeader(okHeader[:len(okHeader)-1] + `,"to":"skola-solna"}`), 0, ErrMalformed},
		{"header null", withHeader(okHeader[:len(okHeader)-1] + `,"reply_to":null}`), 0, ErrMalformed},
		{"header two values", withHeader(okHeader + `{}`), 0, ErrMalformed},
		{"header not object", withHeader(`[1]`), 0, ErrMalformed},
		{"header not JSON", withHeader(`v=1`), 0, ErrMalformed},
		{"header bad UTF-8", withHeader(okHeader[:len(okHeader)-1] + ",\"\xff\":1}"), 0, ErrMalformed},
		{"header v 2", replace(`"v":1`, `"v":2`), 0, ErrMalformed},
		{"header v float", replace(`"v":1`, `"v":1.0`), 0, ErrMalformed},
		{"header bad id", replace(`"id":"00`, `"id":"0g`), 0, ErrMalformed},
		{"header bad from", replace(`"from":"polis`, `"from":"Polis`), 0, ErrMalformed},
		{"header bad to", replace(`"to":"`, `"to":"-`), 0, ErrMalformed},
		{"header bad kind", replace(`"kind":"concern_report"`, `"kind":"concern report"`), 0, ErrMalformed},
		{"header missing created_at", replace(`,"created_at":"2026-03-14T09:26:53.589Z"`, ``), 0, ErrMalformed},
		{"header bad created_at", replace(`2026-03-14T09:26:53.589Z`, `2026-03-14 09:26:53Z`), 0, ErrMalformed},
		{"header non-UTC created_at", replace(`2026-03-14T09:26:53.589Z`, `2026-03-14T10:26:53.589+01:00`), 0, ErrMalformed},
		{"header bad reply_to", withHeader(okHeader[:len(okHeader)-1] + `,"reply_to":"abc"}`), 0, ErrMalformed},
		{"empty meta", build(x.priv, 1, hdr, nil, e.Payload, nil), 0, ErrMalformed},
		{"empty payload", build(x.priv, 1, hdr, e.Meta, nil, nil), 0, ErrMalformed},
		{"ends after header", build(x.priv, 1, hdr, e.Meta, e.Payload, nil)[:6+len(hdr)], 0, ErrTruncated},
		{"trailing byte", append(bytes.Clone(valid), 0), 0, ErrTrailingData},
		{"trailing envelope", append(bytes.Clone(valid), valid...), 0, ErrTrailingData},
	}
	// A section length that cannot fit within the limit is reported as
	// too large rather than truncated, without reading further.
	huge := bytes.Clone(valid[:6+len(hdr)])
	huge = binary.BigEndian.AppendUint32(huge, 0xffffffff)
	tests = append(tests, struct {
		name string
		in   []byte
		max  int
		want error
	}{"meta length 4 GiB", huge, 0, ErrTooLarge})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in, tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestTruncated(t *testing.T) {
	x, pq := fixtures(t)
	for _, f := range []fixture{x, pq} {
		valid := seal(t, f, testHeader())
		for i := range len(valid) {
			_, err := Parse(valid[:i], 0)
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: Parse of %d-byte prefix: %v, want ErrTruncated or ErrMalformed", f.name, i, err)
			}
		}
	}
}

func TestTamper(t *testing.T) {
	x, _ := fixtures(t)
	valid := seal(t, x, testHeader())
	e := mustParse(t, valid)
	hlen := int(binary.BigEndian.Uint16(valid[4:]))
	metaStart := 6 + hlen + 4
	payloadStart := metaStart + len(e.Meta) + 4
	sigStart := len(valid) - ed25519.SignatureSize

	// A flipped byte in each section must parse (so that Parse alone is
	// not mistaken for authentication) and then fail Verify.
	sections := map[string]int{
		"header id":      6 + strings.Index(string(valid[6:6+hlen]), `"id":"0`) + len(`"id":"`),
		"header from":    6 + strings.Index(string(valid[6:6+hlen]), `"from":"p`) + len(`"from":"`),
		"meta start":     metaStart,
		"meta end":       metaStart + len(e.Meta) - 1,
		"payload start":  payloadStart,
		"payload end":    payloadStart + len(e.Payload) - 1,
		"signature R":    sigStart,
		"signature S":    len(valid) - 1,
		"meta length":    metaStart - 4, // shifts bytes between meta and payload
		"payload length": payloadStart - 1,
	}
	for name, i := range sections {
		t.Run(name, func(t *testing.T) {
			b := bytes.Clone(valid)
			b[i] ^= 0x01
			e, err := Parse(b, 0)
			if name == "meta length" || name == "payload length" {
				// Changing a length moves the section boundaries; Parse
				// may or may not notice, but Verify must.
				if err != nil {
					return
				}
			} else if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := e.Verify(x.pub); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
			if _, err := e.OpenMeta(x.brokerID); !errors.Is(err, ErrBadSignature) {
				t.Errorf("OpenMeta after failed Verify = %v, want ErrBadSignature", err)
			}
		})
	}

	// Exhaustively: no single flipped bit anywhere gets past Parse and Verify.
	for i := range valid {
		b := bytes.Clone(valid)
		b[i] ^= 0x80
		e, err := Parse(b, 0)
		if err != nil {
			continue
		}
		if err := e.Verify(x.pub); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("byte %d flipped: Verify = %v, want ErrBadSignature", i, err)
		}
	}
}

func TestVerify(t *testing.T) {
	x, _ := fixtures(t)
	e := mustParse(t, seal(t, x, testHeader()))
	other, _, _ := ed25519.GenerateKey(nil)
	if err := e.Verify(other); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with another key = %v, want ErrBadSignature", err)
	}
	if err := e.Verify(x.pub[:31]); err == nil || Code(err) != errcode.Internal {
		t.Errorf("Verify with a short key = %v, want an internal error", err)
	}
	if err := new(Envelope).Verify(x.pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of a zero Envelope = %v, want ErrBadSignature", err)
	}

	// Signing without the domain separation label must not verify, so a
	// signature made for another protocol with the same key can't be
	// replayed as an envelope signature.
	b := bytes.Clone(e.Raw())
	copy(b[len(b)-64:], ed25519.Sign(x.priv, b[:len(b)-64]))
	if err := mustParse(t, b).Verify(x.pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signature without label: Verify = %v, want ErrBadSignature", err)
	}
}

func TestOpenBeforeVerify(t *testing.T) {
	x, _ := fixtures(t)
	e := mustParse(t, seal(t, x, testHeader()))
	if _, err := e.OpenMeta(x.brokerID); !errors.Is(err, ErrBadSignature) {
		t.Errorf("OpenMeta before Verify = %v, want ErrBadSignature", err)
	}
	if _, err := e.OpenPayload(x.recipientID); !errors.Is(err, ErrBadSignature) {
		t.Errorf("OpenPayload before Verify = %v, want ErrBadSignature", err)
	}
}

func TestWrongKey(t *testing.T) {
	x, pq := fixtures(t)
	e := mustParse(t, seal(t, pq, testHeader()))
	if err := e.Verify(pq.pub); err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateHybridIdentity()
	for name, id := range map[string]age.Identity{
		"other hybrid":   other,
		"X25519 broker":  x.brokerID,
		"hybrid sibling": pq.recipientID,
	} {
		if _, err := e.OpenMeta(id); !errors.Is(err, ErrWrongKey) {
			t.Errorf("OpenMeta with %s: %v, want ErrWrongKey", name, err)
		}
	}
	if _, err := e.OpenMeta(nil); err == nil {
		t.Error("OpenMeta(nil) succeeded")
	}
}

// TestOpenAcrossChunks: a section is read whole whatever its size, across
// age's 64 KiB chunks, and a change to any chunk, a cut or an appended byte
// is refused. Every payload is re-signed, as a malicious sender could.
func TestOpenAcrossChunks(t *testing.T) {
	x, _ := fixtures(t)
	hdr, err := json.Marshal(testHeader())
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 64 << 10
	for _, size := range []int{0, 1, chunk - 1, chunk, chunk + 1, 3*chunk + 5} {
		payload := bytes.Repeat([]byte{0xa5}, size)
		for i := range payload {
			payload[i] ^= byte(i / 251)
		}
		ct, err := encrypt(payload, []age.Recipient{x.recipient})
		if err != nil {
			t.Fatal(err)
		}
		open := func(ct []byte) ([]byte, error) {
			e := mustParse(t, build(x.priv, 1, hdr, testMeta, ct, nil))
			if err := e.Verify(x.pub); err != nil {
				t.Fatal(err)
			}
			return e.OpenPayload(x.recipientID)
		}
		got, err := open(ct)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%d bytes: OpenPayload = %d bytes, %v; want the payload", size, len(got), err)
		}
		// The first byte of the stream after age's header and nonce, the
		// middle and the last.
		for _, at := range []int{len(ct) - size - 16, len(ct) / 2, len(ct) - 1} {
			bad := bytes.Clone(ct)
			bad[at] ^= 0x01
			if _, err := open(bad); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongKey) {
				t.Errorf("%d bytes, changed at %d: OpenPayload = %v, want ErrMalformed", size, at, err)
			}
		}
		if _, err := open(ct[:len(ct)-1]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes, cut: OpenPayload = %v, want ErrMalformed", size, err)
		}
		if _, err := open(append(bytes.Clone(ct), 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes, one byte appended: OpenPayload = %v, want ErrMalformed", size, err)
		}
	}
}

// TestCorruptCiphertext re-signs an envelope whose payload was altered, as
// a malicious sender could: the signature verifies but age must reject it.
func TestCorruptCiphertext(t *testing.T) {
	x, _ := fixtures(t)
	e := mustParse(t, seal(t, x, testHeader()))
	hdr := e.Raw()[6 : 6+binary.BigEndian.Uint16(e.Raw()[4:])]
	for _, at := range []int{len(e.Payload) - 1, len(e.Payload) - 20} {
		p := bytes.Clone(e.Payload)
		p[at] ^= 0x01
		e2 := mustParse(t, build(x.priv, 1, hdr, e.Meta, p, nil))
		if err := e2.Verify(x.pub); err != nil {
			t.Fatal(err)
		}
		if _, err := e2.OpenPayload(x.recipientID); !errors.Is(err, ErrMalformed) {
			t.Errorf("OpenPayload of corrupt payload = %v, want ErrMalformed", err)
		}
	}
	e3 := mustParse(t, build(x.priv, 1, hdr, []byte("not age"), e.Payload, nil))
	if err := e3.Verify(x.pub); err != nil {
		t.Fatal(err)
	}
	if _, err := e3.OpenMeta(x.brokerID); !errors.Is(err, ErrMalformed) {
		t.Errorf("OpenMeta of non-age meta = %v, want ErrMalformed", err)
	}
}

func TestCheckTime(t *testing.T) {
	x, _ := fixtures(t)
	e := mustParse(t, seal(t, x, testHeader()))
	const skew = 5 * time.Minute
	for _, tt := range []struct {
		now  time.Time
		want error
	}{
		{testTime, nil},
		{testTime.Add(skew), nil},
		{testTime.Add(-skew), nil},
		{testTime.Add(skew + time.Millisecond), ErrClockSkew},  // envelope from the past
		{testTime.Add(-skew - time.Millisecond), ErrClockSkew}, // envelope from the future
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ErrClockSkew},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ErrClockSkew},
	} {
		err := e.CheckTime(tt.now, skew)
		if !errors.Is(err, tt.want) {
			t.Errorf("CheckTime(%v) = %v, want %v", tt.now, err, tt.want)
		}
	}
	if err := e.CheckTime(testTime.Add(time.Hour), skew); !strings.Contains(fmt.Sprint(err), "1h0m0s in the past") {
		t.Errorf("error %q does not say how far off", err)
	}
	if err := e.CheckTime(testTime.Add(-time.Hour), skew); !strings.Contains(fmt.Sprint(err), "1h0m0s in the future") {
		t.Errorf("error %q does not say how far off", err)
	}
	if err := e.CheckTime(testTime.Add(time.Millisecond), -time.Hour); !errors.Is(err, ErrClockSkew) {
		t.Errorf("negative skew: %v, want ErrClockSkew", err)
	}
}

func TestCode(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                    "",
		ErrTooLarge:                            errcode.TooLarge,
		fmt.Errorf("%w: x", ErrMalformed):      errcode.Malformed,
		fmt.Errorf("a: %w", ErrTruncated):      errcode.Truncated,
		ErrTrailingData:                        errcode.TrailingData,
		ErrUnknownVersion:                      errcode.UnknownVersion,
		ErrBadSignature:                        errcode.BadSignature,
		fmt.Errorf("b: %w", ErrClockSkew):      errcode.ClockSkew,
		ErrWrongKey:                            errcode.WrongKey,
		errors.New("envelope: something else"): errcode.Internal,
		// Wrapped twice, as the pipeline reports them.
		fmt.Errorf("c: %w", fmt.Errorf("%w: d", ErrWrongKey)): errcode.WrongKey,
		errors.Join(errors.New("e"), ErrTooLarge):             errcode.TooLarge,
	} {
		if got := Code(err); got != want {
			t.Errorf("Code(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestParseDoesNotRetainInput(t *testing.T) {
	x, _ := fixtures(t)
	b := seal(t, x, testHeader())
	e := mustParse(t, b)
	for i := range b {
		b[i] = 0
	}
	if err := e.Verify(x.pub); err != nil {
		t.Errorf("Verify after the input was overwritten: %v", err)
	}
}
