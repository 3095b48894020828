package consent

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
)

func fuzzRecord() Record {
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	until := at.AddDate(1, 0, 0)
	age := 13
	return Record{
		ID:         "soc-malmo.samtycke-1",
		Subject:    Subject{Pseudonym: "ps-0123456789abcdef0123456789abcdef", BirthDate: "2012-03-04", Age: &age},
		Categories: []string{"case_details", "health"}, Recipients: []string{"rosengard-skola"},
		Discloser: "soc-malmo", Purpose: "samordnat stöd",
		GivenBy: []Giver{{Role: RoleGuardian, By: "vårdnadshavare 1", At: at},
			{Role: RoleGuardian, By: "vårdnadshavare 2", At: at}, {Role: RoleChild, At: at}},
		GuardianCount:        2,
		MaturityAssessment:   &Judgement{By: "Handläggare Berg", At: at, Outcome: MaturityChildConsentRequired, Reason: "13 år"},
		ChildAloneAssessment: &Judgement{By: "Handläggare Berg", At: at, Outcome: "not_alone"},
		Documented:           Documentation{How: "oral", By: "Handläggare Berg", At: at},
		ValidFrom:            at, ValidUntil: &until,
	}
}

func TestFuzzCorpus(t *testing.T) {
	r := fuzzRecord()
	full, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	w := fuzzRecord()
	withdrawn := time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC)
	w.WithdrawnAt = &withdrawn
	wb, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	fuzzcorpus.Check(t, "FuzzRecord", map[string][]any{
		"full":        {full},
		"withdrawn":   {wb},
		"empty":       {[]byte{}},
		"null":        {[]byte("null")},
		"object":      {[]byte("{}")},
		"waiver":      {[]byte(`{"id":"a.b","subject":{"pseudonym":"p","age":-1},"categories":["*"],"recipients":["any"],"purpose":" ","given_by":[{"role":"guardian","at":"2026-01-01T00:00:00Z"},{"role":"guardian","at":"2026-01-01T00:00:00+00:00"}]}`)},
		"year-zero":   {[]byte(`{"valid_from":"0000-01-01T00:00:00+01:00","valid_until":"9999-12-31T23:59:59-01:00"}`)},
		"huge-number": {[]byte(`{"guardian_count":1e400,"subject":{"age":99999999999999999999}}`)},
	})
	fuzzcorpus.Check(t, "FuzzRef", map[string][]any{
		"valid":     {"soc-malmo", "samtycke-2026_17"},
		"withdrawn": {"soc-malmo", "samtycke-1.withdrawn"},
		"wildcard":  {"soc-malmo", ">"},
		"dots":      {"soc.malmo", "x"},
		"empty":     {"", ""},
		"long":      {strings.Repeat("a", 63), strings.Repeat("b", 64)},
	})
}

// FuzzRecord decodes arbitrary bytes as a stored consent record, as the
// registry reads one, and validates it. A record that validates must store:
// it encodes, decodes to a record that validates too, and re-encodes byte
// for byte.
func FuzzRecord(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]any
		_ = json.Unmarshal(b, &m) // as Resolve reads it: must not panic
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			return
		}
		b1, err := json.Marshal(&r)
		if err != nil {
			t.Fatalf("a record that validates does not encode, so it cannot be stored: %v", err)
		}
		var r2 Record
		if err := json.Unmarshal(b1, &r2); err != nil {
			t.Fatalf("an encoded record does not decode: %v\n%s", err, b1)
		}
		if err := r2.Validate(); err != nil {
			t.Fatalf("a record validates but not after a round trip: %v\n%s", err, b1)
		}
		b2, err := json.Marshal(&r2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("record does not re-encode stably:\n%s\n%s", b1, b2)
		}
	})
}

// FuzzRef checks that Ref and Owner agree: a reference Ref makes has its
// agency as owner, a reference Owner accepts is one Ref makes, and a
// withdrawal mark is never a reference.
func FuzzRef(f *testing.F) {
	f.Fuzz(func(t *testing.T, agency, id string) {
		if ref, err := Ref(agency, id); err == nil {
			if owner, ok := Owner(ref); !ok || owner != agency {
				t.Fatalf("Ref(%q, %q) = %q, whose owner is %q, %v", agency, id, ref, owner, ok)
			}
			if _, ok := Owner(withdrawalKey(ref)); ok {
				t.Fatalf("withdrawal mark of %q is a reference", ref)
			}
		}
		s := agency + id
		if owner, ok := Owner(s); ok {
			if ref, err := Ref(owner, s[len(owner)+1:]); err != nil || ref != s {
				t.Fatalf("Owner accepts %q but Ref(%q, …) = %q, %v", s, owner, ref, err)
			}
		}
	})
}
