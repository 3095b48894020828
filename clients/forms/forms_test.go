package forms_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

const pnr = "20120304-2385"

func official(t *testing.T) forms.Official {
	t.Helper()
	path := filepath.Join(t.TempDir(), pseudonym.KeyFile)
	if err := pseudonym.WriteKey(path); err != nil {
		t.Fatal(err)
	}
	k, err := pseudonym.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	return forms.Official{Name: "Eva Berg, rektor", Key: k, At: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
}

// field asserts that err is a FieldError for field with both texts.
func field(t *testing.T, err error, name string) {
	t.Helper()
	fe, ok := forms.AsFieldError(err)
	if !ok || fe.Field != name || fe.Problem == "" || fe.Svenska == "" {
		t.Fatalf("got %v, want a FieldError for %s", err, name)
	}
}

// TestConcern: the report carries the pseudonym and birth date, never the
// personnummer, and asks for feedback when the official does.
func TestConcern(t *testing.T) {
	o := official(t)
	m, err := forms.Concern{To: "soc", Personnummer: pnr, Text: "Oro.", Feedback: true, Role: "mentor"}.Message(o)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Metadata.(agency.Claims)
	if m.Kind != agency.KindConcernReport || c.Category != "concern" || c.Subject.BirthDate != "2012-03-04" ||
		c.Subject.Pseudonym == "" || strings.Contains(c.Subject.Pseudonym, "2385") || !*c.FeedbackRequested ||
		!strings.HasSuffix(string(m.Payload), "Återkoppling önskas.") {
		t.Fatalf("concern: %+v %+v %q", m, c, m.Payload)
	}
	_, err = forms.Concern{To: "soc", Personnummer: "20120304-2386", Text: "Oro."}.Message(o)
	field(t, err, "personnummer")
	if !errors.Is(err, pseudonym.ErrInvalid) {
		t.Fatalf("a bad check digit: %v", err)
	}
	_, err = forms.Concern{To: "soc", Personnummer: pnr}.Message(o)
	field(t, err, "text")
}

// TestAnswer: public school data needs no assessment; anything else needs
// one, recorded with the official's name; withholding needs no data.
func TestAnswer(t *testing.T) {
	o := official(t)
	c, err := forms.Answer{Category: "enrolment", Text: "9C", Role: "rector"}.Claims(o)
	if err != nil || *c.Secret || c.InterestAssessment != nil {
		t.Fatalf("public data: %+v, %v", c, err)
	}
	field(t, forms.Answer{Category: "contact_details", Text: "070"}.Check(), "assessment")
	field(t, forms.Answer{Category: "enrolment", Secret: true, Assessment: "disclose", Text: "9C"}.Check(), "reason")
	field(t, forms.Answer{Category: "enrolment"}.Check(), "text")
	field(t, forms.Answer{Category: "nonsense", Text: "x"}.Check(), "category")
	f := forms.Answer{Category: "contact_details", Secret: true, Assessment: "withhold", Reason: "Skyddade personuppgifter."}
	c, err = f.Claims(o)
	if err != nil || !f.Withhold() || c.InterestAssessment.By != o.Name || c.InterestAssessment.Outcome != "withhold" ||
		!c.InterestAssessment.At.Equal(o.At) {
		t.Fatalf("withholding: %+v, %v", c, err)
	}
	nobody := o
	nobody.Name = " "
	_, err = forms.Answer{Category: "contact_details", Assessment: "disclose", Reason: "r", Text: "t"}.Claims(nobody)
	field(t, err, "name")
}

// TestConsent: the number of guardians needed and the maturity judgement
// are stated, never assumed.
func TestConsent(t *testing.T) {
	o := official(t)
	f := forms.Consent{ID: "s-1", Personnummer: pnr, Categories: []string{"case_details"}, Recipients: []string{"skola"},
		Purpose: "stöd", Guardians: []string{"mamma"}, ChildRequired: "no", How: "oral"}
	_, err := f.Record(o)
	field(t, err, "guardians-needed")
	f.GuardiansNeeded, f.ChildRequired = 2, ""
	_, err = f.Record(o)
	field(t, err, "child-required")
	f.ChildRequired, f.How = "no", "by carrier pigeon"
	_, err = f.Record(o)
	field(t, err, "how")
	f.How, f.ValidUntil = "oral", "4 maj"
	_, err = f.Record(o)
	field(t, err, "valid-until")
	f.ValidUntil = "2026-12-31"
	r, err := f.Record(o)
	if err != nil || r.GuardianCount != 2 || len(r.GivenBy) != 1 || r.MaturityAssessment.By != o.Name ||
		r.Documented.By != o.Name || r.ValidUntil == nil {
		t.Fatalf("consent: %+v, %v", r, err)
	}
}

// TestFeedbackAndBlocking: feedback is the status only; data under FU
// secrecy or a consent may not be forwarded.
func TestFeedbackAndBlocking(t *testing.T) {
	o := official(t)
	_, _, err := forms.Feedback{Status: "maybe", Reason: "r"}.Claims(o)
	field(t, err, "status")
	c, text, err := forms.Feedback{Status: "opened", Reason: "Lämpligt.", Asked: true, GuardianInformed: true}.Claims(o)
	if err != nil || text != "En utredning har inletts." || c.InvestigationStatus != "opened" || c.Subject != nil {
		t.Fatalf("feedback: %+v %q %v", c, text, err)
	}
	d := &agency.Delivery{ID: "a", Decision: &decision.Record{Category: "preliminary_investigation",
		Obligations: []string{agency.ObligationDoNotForward}}}
	if b := forms.Blocking(d); len(b) != 1 || b[0] != agency.ObligationDoNotForward {
		t.Fatalf("blocking: %v", b)
	}
	fc, err := forms.Forward{To: "skola", Purpose: "stöd"}.Claims(o, d)
	if err != nil || fc.ForwardedFrom[0] != "a" || fc.Category != "preliminary_investigation" {
		t.Fatalf("forward: %+v %v", fc, err)
	}
	d.Decision.Obligations = []string{"status-only"}
	if b := forms.Blocking(d); len(b) != 0 {
		t.Fatalf("status-only blocks: %v", b)
	}
}
