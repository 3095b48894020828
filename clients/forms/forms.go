// Package forms holds what an official fills in for each step of an
// exchange the law allows, checks that it is complete, and turns it into the
// message's claims (policies/README.md, "input.claims"). The terminal
// clients (package desk) and the web desk (package webdesk) both build their
// messages here, so that a form asks for exactly what the law requires in
// one place.
//
// A child is named by personnummer in a form only: the claims carry the
// keyed pseudonym (package pseudonym). A form whose step only one rule can
// allow names that rule in claims.legal_basis_claimed, so that a refusal
// gives that rule's reasons.
package forms

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// FieldError is a form that cannot be sent as filled in: Field names the
// field (as the terminal clients' flag without "--" and the web desk's input
// name), Problem says in English what to do, Svenska says it in Swedish.
type FieldError struct {
	Field   string
	Problem string
	Svenska string
	// Err is the underlying error, e.g. pseudonym.ErrInvalid.
	Err error
}

// Error returns the problem in English, with the underlying error.
func (e *FieldError) Error() string {
	if e.Err != nil {
		return e.Problem + ": " + e.Err.Error()
	}
	return e.Problem
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, problem, svenska string) *FieldError {
	return &FieldError{Field: field, Problem: problem, Svenska: svenska}
}

// AsFieldError returns the FieldError in err's chain, if any.
func AsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// Official is who fills in a form: the name recorded as who made each
// judgement, the deployment's pseudonym key, and the time the judgements are
// made.
type Official struct {
	// Name is "Förnamn Efternamn, titel", recorded in every judgement.
	Name string
	// Key turns personnummer into pseudonyms.
	Key *pseudonym.Key
	// At is when the form is sent; zero means now.
	At time.Time
}

func (o Official) at() time.Time {
	if o.At.IsZero() {
		return time.Now().UTC()
	}
	return o.At.UTC()
}

// Judgement records an assessment the official makes now.
func (o Official) Judgement(outcome, reason string) (*agency.Judgement, error) {
	if strings.TrimSpace(o.Name) == "" {
		return nil, fieldErr("name", `say who made the assessment ("Förnamn Efternamn, titel")`,
			"Ange vem som gjorde bedömningen (namn och titel).")
	}
	return &agency.Judgement{By: o.Name, At: o.at(), Outcome: outcome, Reason: reason}, nil
}

// Subject turns a personnummer into the pseudonymous subject of a message.
func (o Official) Subject(pnr string) (*agency.Subject, error) {
	if strings.TrimSpace(pnr) == "" {
		return nil, fieldErr("personnummer", "give the child's personnummer, YYYYMMDD-NNNN",
			"Ange barnets personnummer (ÅÅÅÅMMDD-NNNN).")
	}
	if o.Key == nil {
		return nil, errors.New("forms: no pseudonym key: the agency's copy of pseudonym.key is needed to name a child")
	}
	p, err := pseudonym.Parse(strings.TrimSpace(pnr))
	if err != nil {
		return nil, &FieldError{Field: "personnummer", Problem: "the personnummer is not valid",
			Svenska: "Personnumret är inte giltigt: kontrollera datum och kontrollsiffra (ÅÅÅÅMMDD-NNNN).", Err: err}
	}
	return &agency.Subject{Pseudonym: o.Key.Of(p), BirthDate: p.BirthDate()}, nil
}

// required returns a FieldError for the first empty field of pairs (field,
// value, what in English, what in Swedish).
func required(fields ...[4]string) error {
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			return fieldErr(f[0], "give "+f[2], "Fyll i "+f[3]+".")
		}
	}
	return nil
}

// Categories are the data categories an official chooses from, with their
// Swedish names (policies/README.md).
var Categories = []struct{ ID, Svenska string }{
	{"enrolment", "inskrivning"},
	{"class_list", "klasslista"},
	{"school_catalogue", "skolkatalog"},
	{"contact_details", "kontaktuppgifter"},
	{"attendance", "närvaro"},
	{"grades", "betyg"},
	{"pupil_welfare", "elevvård"},
	{"risk_environment", "kriminell riskmiljö"},
	{"crime_suspicion", "brottsmisstanke"},
	{"case_details", "socialtjänstens ärende"},
	{"preliminary_investigation", "förundersökning"},
	{"health", "hälsa (elevhälsa)"},
	{"concern", "orosanmälan"},
	{"investigation_status", "utredningsstatus"},
	{"confiscation", "omhändertaget föremål"},
	{"followup_results", "uppföljning av insatser"},
	{"aggregate_statistics", "statistik utan identitet"},
}

// PublicSchoolData are the categories of school data that are public
// (OSL 23 kap.; skollagen 29 kap. 14 §).
var PublicSchoolData = []string{"enrolment", "class_list", "school_catalogue"}

func knownCategory(c string) bool {
	return slices.ContainsFunc(Categories, func(x struct{ ID, Svenska string }) bool { return x.ID == c })
}

func category(field, c string) error {
	if c == "" {
		return fieldErr(field, "choose the data category", "Välj uppgiftskategori.")
	}
	if !knownCategory(c) {
		return fieldErr(field, fmt.Sprintf("%q is not a data category the policy knows", c),
			"Välj en uppgiftskategori ur listan.")
	}
	return nil
}

// Concern is a report of concern (orosanmälan, SoL (2025:400) 19 kap. 1 §) to social
// services.
type Concern struct {
	To           string
	Personnummer string
	Text         string
	// Feedback asks to be told whether an investigation was opened (återkoppling).
	Feedback bool
	// Role is the reporter's role, e.g. rector, mentor, police officer.
	Role string
}

// Message returns the report, ready to send.
func (f Concern) Message(o Official) (agency.Message, error) {
	if err := required([4]string{"to", f.To, "the social services to report to", "socialtjänst"},
		[4]string{"text", f.Text, "what you have seen or heard", "vad du har sett eller hört"}); err != nil {
		return agency.Message{}, err
	}
	subj, err := o.Subject(f.Personnummer)
	if err != nil {
		return agency.Message{}, err
	}
	body := f.Text
	if f.Feedback {
		body += "\n\nÅterkoppling önskas."
	}
	claims := agency.Claims{Category: "concern", Subject: subj, Purpose: "orosanmälan",
		SenderRole: f.Role, FeedbackRequested: agency.Bool(f.Feedback), LegalBasisClaimed: "R-CONCERN"}
	return agency.Message{To: f.To, Kind: agency.KindConcernReport, Metadata: claims, Payload: []byte(body)}, nil
}

// Request is the police's request for data about a child (begäran, LUB
// 2025:170), citing why they need it.
type Request struct {
	To, Category, Personnummer, Purpose, Text string
}

// Message returns the request, ready to send.
func (f Request) Message(o Official) (agency.Message, error) {
	if err := required([4]string{"to", f.To, "the school or social services you ask", "mottagare"}); err != nil {
		return agency.Message{}, err
	}
	if err := category("category", f.Category); err != nil {
		return agency.Message{}, err
	}
	if err := required([4]string{"purpose", f.Purpose, "why the police need the data in crime fighting", "ändamålet: varför polisen behöver uppgifterna i brottsbekämpningen"},
		[4]string{"text", f.Text, "your question", "din fråga"}); err != nil {
		return agency.Message{}, err
	}
	subj, err := o.Subject(f.Personnummer)
	if err != nil {
		return agency.Message{}, err
	}
	// The request relies on LUB 4 § for contact details and on 7 § for the
	// rest: if it is refused, that rule's reasons come first.
	basis := "R-LUB-REQUEST"
	if f.Category == "contact_details" {
		basis = "R-LUB-CONTACT"
	}
	return agency.Message{To: f.To, Kind: agency.KindRequest, Payload: []byte(f.Text),
		Metadata: agency.Claims{Category: f.Category, Subject: subj, Purpose: f.Purpose, LegalBasisClaimed: basis}}, nil
}

// Answer is the school's answer to a police request (LUB 2025:170 7 §):
// public data straight away, anything else only after the rector's interest
// assessment (intresseavvägning).
type Answer struct {
	Category string
	// Secret: the data is covered by secrecy or tystnadsplikt.
	Secret bool
	// Assessment is "disclose" or "withhold"; Reason says why.
	Assessment, Reason string
	// Personnummer, optional: the pupil the answer is about.
	Personnummer string
	// Role is rector or rector_delegate.
	Role string
	Text string
}

// Public reports whether the answer gives public school data, which needs
// no interest assessment.
func (f Answer) Public() bool { return slices.Contains(PublicSchoolData, f.Category) && !f.Secret }

// Check checks the form before anything is sent or recorded.
func (f Answer) Check() error {
	if err := category("category", f.Category); err != nil {
		return err
	}
	if !f.Public() {
		what := fmt.Sprintf("%s is not public school data", f.Category)
		if f.Secret {
			what = "data covered by secrecy"
		}
		if f.Assessment != "disclose" && f.Assessment != "withhold" {
			return fieldErr("assessment", what+": record your interest assessment, disclose or withhold",
				"Uppgifterna är inte offentliga: gör och dokumentera din intresseavvägning (lämna ut eller inte).")
		}
		if strings.TrimSpace(f.Reason) == "" {
			return fieldErr("reason", what+": give the reason for your interest assessment",
				"Motivera din intresseavvägning.")
		}
	}
	if strings.TrimSpace(f.Text) == "" && (f.Public() || f.Assessment != "withhold") {
		return fieldErr("text", "give the data", "Skriv uppgifterna som polisen ska få.")
	}
	return nil
}

// Withhold reports whether the official decided to give nothing: then
// nothing is sent, and the assessment is kept beside the request.
func (f Answer) Withhold() bool { return !f.Public() && f.Assessment == "withhold" }

// Claims returns the answer's claims; with Withhold, the assessment to keep.
func (f Answer) Claims(o Official) (agency.Claims, error) {
	if err := f.Check(); err != nil {
		return agency.Claims{}, err
	}
	public := f.Public()
	claims := agency.Claims{Category: f.Category, SenderRole: f.Role, Secret: agency.Bool(!public)}
	var err error
	if !public {
		if claims.InterestAssessment, err = o.Judgement(f.Assessment, f.Reason); err != nil {
			return agency.Claims{}, err
		}
	}
	if strings.TrimSpace(f.Personnummer) != "" {
		if claims.Subject, err = o.Subject(f.Personnummer); err != nil {
			return agency.Claims{}, err
		}
	}
	return claims, nil
}

// FeedbackStatus is the status-only text of feedback, by investigation status.
var FeedbackStatus = map[string]string{
	"opened":     "En utredning har inletts.",
	"not_opened": "Ingen utredning har inletts.",
	"ongoing":    "En utredning pågår redan.",
}

// Feedback is social services' feedback (återkoppling, SoL (2025:400) 19 kap. 6 §)
// to the reporter of a concern: the status only, unless a consent covers
// more.
type Feedback struct {
	// Status is opened, not_opened or ongoing.
	Status string
	// Reason says why feedback is appropriate now.
	Reason string
	// Asked: the reporter asked for feedback. GuardianInformed: the
	// guardian has been told (until then feedback is inappropriate).
	Asked, GuardianInformed bool
	// Beyond the status, within a consent: all four are needed.
	ConsentRef, Category, Purpose, Personnummer, Text string
}

// Claims returns the feedback's claims and text.
func (f Feedback) Claims(o Official) (agency.Claims, string, error) {
	text, ok := FeedbackStatus[f.Status]
	if !ok {
		return agency.Claims{}, "", fieldErr("status", "the status must be opened, not_opened or ongoing",
			"Välj om en utredning har inletts, inte inletts eller redan pågår.")
	}
	if err := required([4]string{"reason", f.Reason, "why feedback is appropriate now", "varför återkoppling är lämplig nu"}); err != nil {
		return agency.Claims{}, "", err
	}
	if f.ConsentRef != "" && (f.Category == "" || f.Purpose == "" || f.Text == "" || f.Personnummer == "") {
		return agency.Claims{}, "", fieldErr("consent", "feedback beyond the status needs the category, purpose, personnummer and text with the consent",
			"Återkoppling utöver status kräver samtycke med kategori, ändamål, personnummer och text.")
	}
	j, err := o.Judgement("appropriate", f.Reason)
	if err != nil {
		return agency.Claims{}, "", err
	}
	claims := agency.Claims{Category: "investigation_status", InvestigationStatus: f.Status,
		FeedbackRequested: agency.Bool(f.Asked), FeedbackAssessment: j, GuardianInformed: agency.Bool(f.GuardianInformed),
		LegalBasisClaimed: "R-FEEDBACK"}
	if f.ConsentRef != "" {
		// Beyond the status the consent is the basis (R-CONSENT).
		if claims.Subject, err = o.Subject(f.Personnummer); err != nil {
			return agency.Claims{}, "", err
		}
		claims.Category, claims.ConsentRef, claims.Purpose = f.Category, f.ConsentRef, f.Purpose
		claims.LegalBasisClaimed = "R-CONSENT"
		text += "\n\n" + f.Text
	}
	return claims, text, nil
}

// Consent is a consent (samtycke, OSL 12 kap. 2-3 §§) social services
// collected: who gave it, for which data, to whom, for what purpose and for
// how long.
type Consent struct {
	// ID is the agency's own id for it: a case number, never a name.
	ID           string
	Personnummer string
	Categories   []string
	Recipients   []string
	Purpose      string
	// Guardians who consented, e.g. "mamma" (no names; the registry holds none).
	Guardians []string
	// GuardiansNeeded is how many guardians have custody and must consent.
	GuardiansNeeded int
	// Child: the child consented too. Person: the person, 18 or older, consented.
	Child, Person bool
	// ChildRequired is the official's maturity judgement, "yes" or "no":
	// do the child's age and maturity require the child's own consent.
	ChildRequired string
	// How is written, oral or digital.
	How string
	// ValidUntil, optional, is the last day, YYYY-MM-DD (local time).
	ValidUntil string
}

// Record returns the consent record, ready for the registry.
func (f Consent) Record(o Official) (consent.Record, error) {
	if err := required([4]string{"id", f.ID, "your id for the consent (a case number, never a name)", "samtyckets id (ett diarienummer, aldrig ett namn)"},
		[4]string{"purpose", f.Purpose, "what the data may be used for", "ändamålet som samtycket avser"}); err != nil {
		return consent.Record{}, err
	}
	if len(f.Categories) == 0 {
		return consent.Record{}, fieldErr("categories", "name the data consented to", "Ange vilka uppgifter samtycket avser.")
	}
	if len(f.Recipients) == 0 {
		return consent.Record{}, fieldErr("to", "name the agencies the data may go to", "Ange vilka mottagare samtycket avser.")
	}
	switch f.How {
	case "written", "oral", "digital":
	case "":
		return consent.Record{}, fieldErr("how", "say how the consent was given: written, oral or digital", "Ange hur samtycket lämnades: skriftligt, muntligt eller digitalt.")
	default:
		return consent.Record{}, fieldErr("how", "how must be written, oral or digital", "Samtycket lämnas skriftligt, muntligt eller digitalt.")
	}
	if strings.TrimSpace(o.Name) == "" {
		return consent.Record{}, fieldErr("name", "say who documented the consent", "Ange vem som dokumenterade samtycket.")
	}
	// How many guardians must consent is a fact of the case, never assumed
	// from how many did: one consent of two needed is no consent.
	if len(f.Guardians) > 0 && f.GuardiansNeeded < 1 {
		return consent.Record{}, fieldErr("guardians-needed", "say how many guardians have custody and must consent (1 or 2)",
			"Ange hur många vårdnadshavare som har vårdnaden och måste samtycka (1 eller 2).")
	}
	at := o.at()
	var maturity *consent.Judgement
	switch f.ChildRequired {
	case "yes", "no":
		outcome := consent.MaturityChildConsentNotRequired
		if f.ChildRequired == "yes" {
			outcome = consent.MaturityChildConsentRequired
		}
		// The judgement is the official's own, made now.
		maturity = &consent.Judgement{By: o.Name, At: at, Outcome: outcome}
	case "":
		if len(f.Guardians) > 0 {
			return consent.Record{}, fieldErr("child-required", "for a child, judge whether the child's own consent is needed (yes or no)",
				"Bedöm barnets ålder och mognad: krävs barnets eget samtycke (ja eller nej)?")
		}
	default:
		return consent.Record{}, fieldErr("child-required", "the maturity judgement must be yes or no", "Mognadsbedömningen är ja eller nej.")
	}
	subj, err := o.Subject(f.Personnummer)
	if err != nil {
		return consent.Record{}, err
	}
	r := consent.Record{ID: f.ID, Subject: consent.Subject{Pseudonym: subj.Pseudonym, BirthDate: subj.BirthDate},
		Categories: f.Categories, Recipients: f.Recipients, Purpose: f.Purpose,
		Documented: consent.Documentation{How: f.How, By: o.Name, At: at}, ValidFrom: at,
		GuardianCount: f.GuardiansNeeded, MaturityAssessment: maturity}
	for _, g := range f.Guardians {
		r.GivenBy = append(r.GivenBy, consent.Giver{Role: consent.RoleGuardian, By: g, At: at})
	}
	if f.Child {
		r.GivenBy = append(r.GivenBy, consent.Giver{Role: consent.RoleChild, At: at})
	}
	if f.Person {
		r.GivenBy = append(r.GivenBy, consent.Giver{Role: consent.RolePerson, At: at})
	}
	if f.ValidUntil != "" {
		u, err := time.ParseInLocation(time.DateOnly, f.ValidUntil, time.Local)
		if err != nil {
			return consent.Record{}, fieldErr("valid-until", fmt.Sprintf("the last day %q is not YYYY-MM-DD", f.ValidUntil),
				"Sista giltighetsdag anges som ÅÅÅÅ-MM-DD.")
		}
		u = u.Add(24*time.Hour - time.Second).UTC()
		r.ValidUntil = &u
	}
	if err := r.Validate(); err != nil {
		return consent.Record{}, err
	}
	return r, nil
}

// Forward passes data received in a message on to another agency as a
// disclosure; the broker applies the obligations it came with.
type Forward struct {
	To, Purpose string
	// ConsentRef, optional: a consent that covers passing it on.
	ConsentRef string
	// Personnummer, optional: whom the data is about.
	Personnummer string
}

// Claims returns the forward's claims for passing on d.
func (f Forward) Claims(o Official, d *agency.Delivery) (agency.Claims, error) {
	if err := required([4]string{"to", f.To, "the recipient", "mottagare"},
		[4]string{"purpose", f.Purpose, "why you pass it on", "varför du lämnar uppgifterna vidare"}); err != nil {
		return agency.Claims{}, err
	}
	claims := agency.Claims{Category: d.Decision.Category, Purpose: f.Purpose, ConsentRef: f.ConsentRef,
		ForwardedFrom: []string{d.ID}}
	if strings.TrimSpace(f.Personnummer) != "" {
		var err error
		if claims.Subject, err = o.Subject(f.Personnummer); err != nil {
			return agency.Claims{}, err
		}
	}
	return claims, nil
}

// Blocking returns the obligations of d that forbid passing its data on:
// data from a preliminary investigation (OSL 18 kap. 1 och 3 §§) and data
// given under a consent, which covers only that disclosure (OSL 12 kap.).
func Blocking(d *agency.Delivery) []string {
	var out []string
	for _, o := range d.Decision.Obligations {
		if o == agency.ObligationDoNotForward || o == agency.ObligationWithinConsentScope {
			out = append(out, o)
		}
	}
	return out
}

// RequestFU is social services' request to the police for data from a
// preliminary investigation (förundersökning) connected to a report of
// concern, for the child's needs assessment (SoL (2025:400) 20 kap. 6 §).
type RequestFU struct {
	To, Personnummer, Purpose, Text string
}

// Message returns the request, ready to send.
func (f RequestFU) Message(o Official) (agency.Message, error) {
	if err := required([4]string{"to", f.To, "the police", "polismyndighet"},
		[4]string{"purpose", f.Purpose, "why the data matters for the child's needs assessment", "varför uppgifterna behövs i bedömningen av barnets behov"},
		[4]string{"text", f.Text, "your question", "din fråga"}); err != nil {
		return agency.Message{}, err
	}
	subj, err := o.Subject(f.Personnummer)
	if err != nil {
		return agency.Message{}, err
	}
	claims := agency.Claims{Category: "preliminary_investigation", Subject: subj, Purpose: f.Purpose,
		FU: &agency.FU{ConcernReportMade: true}, LegalBasisClaimed: "R-FU"}
	return agency.Message{To: f.To, Kind: agency.KindRequest, Metadata: claims, Payload: []byte(f.Text)}, nil
}

// AnswerFU is the police's answer to social services' request for data from
// a preliminary investigation, with the officer's assessment of why the data
// can matter for the child's needs assessment.
type AnswerFU struct {
	Relevance, Text string
}

// Claims returns the answer's claims.
func (f AnswerFU) Claims(o Official) (agency.Claims, error) {
	if err := required([4]string{"relevance", f.Relevance, "why the data can matter for the child's needs assessment", "din bedömning av varför uppgifterna har betydelse för bedömningen av barnets behov"},
		[4]string{"text", f.Text, "the data", "uppgifterna"}); err != nil {
		return agency.Claims{}, err
	}
	j, err := o.Judgement("relevant", f.Relevance)
	if err != nil {
		return agency.Claims{}, err
	}
	return agency.Claims{Category: "preliminary_investigation", LegalBasisClaimed: "R-FU",
		FU: &agency.FU{ConcernReportMade: true, RelevanceAssessment: j}}, nil
}
