package directory

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/nats-io/nkeys"

	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
)

// fuzzParty returns fixed public keys for name, so that the checked-in seeds
// stay valid: a signing key, an age recipient (hybrid if asked) and an nkey.
func fuzzParty(t testing.TB, name string, hybrid bool) (signing, recipient, nkey string) {
	t.Helper()
	seed := sha256.Sum256([]byte("sekretessbroker fuzz " + name))
	signing = keys.FormatSigningPublicKey(ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey))
	recipient = "age1n85zmvw0uvfcrhcx4k6eh64ynvaqy8cgut79l2dyne5zw7dyleks42v2m0"
	if hybrid {
		id, err := age.ParseHybridIdentity("AGE-SECRET-KEY-PQ-1QP5Y0V2TN540S4298EPSEH895Q6Q7YFJDUUSHWPMTN89KS370YAQC4L7HS")
		if err != nil {
			t.Fatal(err)
		}
		recipient = id.Recipient().String()
	}
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, seed[:])
	if err != nil {
		t.Fatal(err)
	}
	nkey, err = kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return signing, recipient, nkey
}

func fuzzDirectory(t testing.TB) *Directory {
	t.Helper()
	var d Directory
	s, r, n := fuzzParty(t, "broker", false)
	d.Broker = Broker{SigningKey: s, AgeRecipient: r, NATS: NATS{NKey: n}}
	for _, a := range []Agency{
		{ID: "polisen-syd", Kind: KindPolice, Name: "Polismyndigheten, region Syd"},
		{ID: "rosengard-skola", Kind: KindSchool, Operator: OperatorMunicipal, Name: "Rosengårdsskolan"},
		{ID: "friskolan-1", Kind: KindSchool, Operator: OperatorIndependent, Name: "Friskolan i Malmö AB"},
		{ID: "soc-malmo", Kind: KindSocialServices, Name: "Socialtjänsten Malmö"},
	} {
		a.SigningKey, a.AgeRecipient, a.NATS.NKey = fuzzParty(t, a.ID, a.ID == "soc-malmo")
		d.Agencies = append(d.Agencies, a)
	}
	return &d
}

func TestFuzzCorpus(t *testing.T) {
	d := fuzzDirectory(t)
	y, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{y, j} {
		if _, err := Parse(b); err != nil {
			t.Fatalf("seed does not parse: %v", err)
		}
	}
	short := &Directory{Broker: Broker{SigningKey: d.Broker.SigningKey, AgeRecipient: d.Broker.AgeRecipient}}
	ys, err := short.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	fuzzcorpus.Check(t, "FuzzParse", map[string][]any{
		"yaml":           {y},
		"json":           {j},
		"broker-only":    {ys},
		"empty":          {[]byte{}},
		"unknown-field":  {append(bytes.Clone(ys), "colour: blue\n"...)},
		"duplicate-id":   {[]byte(strings.Replace(string(y), "id: soc-malmo", "id: polisen-syd", 1))},
		"alias-bomb":     {[]byte("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n")},
		"json-not-array": {[]byte(`{"broker":{},"agencies":{}}`)},
		"bad-utf8":       {[]byte("broker:\n  signing_key: \"\xff\"\n")},
	})
}

// FuzzParse feeds Parse arbitrary directory files. A directory that parses
// must index every agency, and its YAML form must parse back to the same
// directory and re-encode byte for byte.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err != nil {
			return
		}
		for i := range d.Agencies {
			a := &d.Agencies[i]
			if got, ok := d.Lookup(a.ID); !ok || got != a {
				t.Fatalf("agency %q is not indexed", a.ID)
			}
			if !ValidID(a.ID) || a.SigningPublicKey() == nil || a.Recipient() == nil {
				t.Fatalf("agency %q parsed without a valid id or keys", a.ID)
			}
		}
		m1, err := d.Marshal()
		if err != nil {
			t.Fatalf("a parsed directory does not marshal: %v", err)
		}
		d2, err := Parse(m1)
		if err != nil {
			t.Fatalf("a marshalled directory does not parse: %v\n%s", err, m1)
		}
		m2, err := d2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m1, m2) {
			t.Fatalf("directory does not re-encode stably:\n%s\n%s", m1, m2)
		}
		if len(d2.Agencies) != len(d.Agencies) || !reflect.DeepEqual(d2.Broker, d.Broker) {
			t.Fatal("re-parsed directory differs")
		}
		for i := range d.Agencies {
			a := d.Agencies[i]
			b, ok := d2.Lookup(a.ID)
			if !ok || !reflect.DeepEqual(*b, a) {
				t.Fatalf("agency %q differs after a round trip", a.ID)
			}
		}
	})
}
