package consent_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
)

func valid() consent.Record {
	at := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	return consent.Record{
		ID:         "samtycke-1",
		Subject:    consent.Subject{Pseudonym: "ps-1", BirthDate: "2012-03-04"},
		Categories: []string{"case_details"}, Recipients: []string{"rosengard-skola"},
		Purpose: "samordnat stöd",
		GivenBy: []consent.Giver{{Role: consent.RoleGuardian, By: "mamma", At: at},
			{Role: consent.RoleGuardian, By: "pappa", At: at}},
		GuardianCount: 2, MaturityAssessment: &consent.Judgement{By: "Handläggare Berg", At: at, Outcome: consent.MaturityChildConsentRequired},
		Documented: consent.Documentation{How: "oral", By: "Handläggare Berg", At: at},
		ValidFrom:  at,
	}
}

func TestValidate(t *testing.T) {
	r := valid()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	before := valid().ValidFrom.Add(-time.Hour)
	for want, mutate := range map[string]func(*consent.Record){
		"general waiver":            func(r *consent.Record) { r.Categories = []string{"*"} },
		"recipients must name":      func(r *consent.Record) { r.Recipients = nil },
		"purpose is empty":          func(r *consent.Record) { r.Purpose = " " },
		"given_by is empty":         func(r *consent.Record) { r.GivenBy = nil },
		"not guardian, child or":    func(r *consent.Record) { r.GivenBy[0].Role = "teacher" },
		"same guardian consent":     func(r *consent.Record) { r.GivenBy[1].By = "mamma" },
		"documented.how":            func(r *consent.Record) { r.Documented.How = "assumed" },
		"birth_date or age":         func(r *consent.Record) { r.Subject.BirthDate = "" },
		"valid_until is before":     func(r *consent.Record) { r.ValidUntil = &before },
		"subject.pseudonym":         func(r *consent.Record) { r.Subject.Pseudonym = "" },
		"birth_date is not":         func(r *consent.Record) { r.Subject.BirthDate = "4 mars 2012" },
		"documented needs by":       func(r *consent.Record) { r.Documented.By = "" },
		"valid_from is missing":     func(r *consent.Record) { r.ValidFrom = time.Time{} },
		"consent without a time":    func(r *consent.Record) { r.GivenBy[0].At = time.Time{} },
		"categories must name the":  func(r *consent.Record) { r.Categories = nil },
		"guardian_count must say":   func(r *consent.Record) { r.GuardianCount = 0 },
		"maturity_assessment needs": func(r *consent.Record) { r.MaturityAssessment.By = "" },
		"maturity_assessment outcome": func(r *consent.Record) {
			r.MaturityAssessment.Outcome = "mature"
		},
	} {
		r := valid()
		mutate(&r)
		err := r.Validate()
		if !errors.Is(err, consent.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate = %v", want, err)
		}
	}
}

func TestRef(t *testing.T) {
	ref, err := consent.Ref("soc-malmo", "samtycke-2026_17")
	if err != nil || ref != "soc-malmo.samtycke-2026_17" {
		t.Fatalf("Ref = %q, %v", ref, err)
	}
	if owner, ok := consent.Owner(ref); !ok || owner != "soc-malmo" {
		t.Fatalf("Owner(%q) = %q, %v", ref, owner, ok)
	}
	for _, bad := range [][2]string{{"Soc", "x"}, {"soc-malmo", "a.b"}, {"soc-malmo", "*"}, {"soc-malmo", ""}} {
		if _, err := consent.Ref(bad[0], bad[1]); !errors.Is(err, consent.ErrInvalid) {
			t.Errorf("Ref(%q, %q) = %v", bad[0], bad[1], err)
		}
	}
	for _, bad := range []string{"soc-malmo", "soc-malmo.a.b", ".x", "soc-malmo.>"} {
		if _, ok := consent.Owner(bad); ok {
			t.Errorf("Owner(%q) accepted", bad)
		}
	}
}
