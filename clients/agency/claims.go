package agency

import "time"

// Claims is a message's policy metadata: what the broker decides on. It is
// encrypted to the broker and never reaches the recipient. Every field is
// described in policies/README.md ("input.claims"); the documented human
// judgements are the official's, the policy only checks they were made.
type Claims struct {
	// Category of the data, e.g. "enrolment", "contact_details", "concern".
	Category string   `json:"category"`
	Subject  *Subject `json:"subject,omitempty"`
	// Purpose in plain words; requests and consent-based disclosures need it.
	Purpose     string `json:"purpose,omitempty"`
	PurposeCode string `json:"purpose_code,omitempty"`
	// SenderRole is the official's role, e.g. "rector".
	SenderRole string `json:"sender_role,omitempty"`
	// SenderOfficial names the official who sends (or asks), e.g. "Jonas
	// Lind, områdespolis": with Purpose it answers "who asked, and why". The
	// broker seals it in the audit log; no rule decides on it.
	SenderOfficial    string `json:"sender_official,omitempty"`
	LegalBasisClaimed string `json:"legal_basis_claimed,omitempty"`
	// Secret says whether the data is covered by secrecy; nil when not stated.
	Secret             *bool      `json:"secret,omitempty"`
	InterestAssessment *Judgement `json:"interest_assessment,omitempty"`

	FeedbackRequested   *bool      `json:"feedback_requested,omitempty"`
	FeedbackAssessment  *Judgement `json:"feedback_assessment,omitempty"`
	GuardianInformed    *bool      `json:"guardian_informed,omitempty"`
	InvestigationStatus string     `json:"investigation_status,omitempty"`

	Conditions1018a       *Conditions1018a `json:"conditions_1018a,omitempty"`
	ExceptionalAssessment *Judgement       `json:"exceptional_assessment,omitempty"`
	NecessityAssessment   *Judgement       `json:"necessity_assessment,omitempty"`
	FU                    *FU              `json:"fu,omitempty"`
	Confiscation          *Confiscation    `json:"confiscation,omitempty"`

	// ConsentRef names a consent in the registry ("<agency>.<consent-id>");
	// the broker reads the consent itself, never from the message.
	ConsentRef string `json:"consent_ref,omitempty"`
	// ForwardedFrom lists received messages whose data this one passes on;
	// their obligations travel with it. Forward sets it.
	ForwardedFrom []string `json:"forwarded_from,omitempty"`
}

// Subject is the child or young person the data is about, by pseudonym only.
type Subject struct {
	Pseudonym string `json:"pseudonym,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
	Age       *int   `json:"age,omitempty"`
}

// Judgement is an official's documented judgement: who made it, when, the
// outcome and why.
type Judgement struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
}

// Conditions1018a documents the conditions of OSL 10 kap. 18 a §: from
// 2025-04-01 (Lag 2025:179) the risk of criminal activity and that the
// disclosure is not inappropriate; before, also that the data can be
// assumed to help prevent it.
type Conditions1018a struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
	// RiskOfCrime: concrete circumstances show a risk of criminal activity.
	RiskOfCrime Condition `json:"risk_of_crime"`
	// HelpsPrevent: the data can be assumed to help prevent it. Needed only
	// for a message dated before 2025-04-01.
	HelpsPrevent *Condition `json:"helps_prevent,omitempty"`
	// NotInappropriate: not inappropriate given planned or ongoing interventions.
	NotInappropriate Condition `json:"not_inappropriate"`
}

// Condition is one condition, met or not, and why.
type Condition struct {
	Met  bool   `json:"met"`
	Text string `json:"text"`
}

// FU documents a disclosure of data from a preliminary investigation.
type FU struct {
	ConcernReportMade   bool       `json:"concern_report_made"`
	RelevanceAssessment *Judgement `json:"relevance_assessment,omitempty"`
	CaseAssessment      *Judgement `json:"case_assessment,omitempty"`
}

// Confiscation is an object a school took (skollagen 5 kap. 23 §).
type Confiscation struct {
	// Item is "knife", "weapon", "spray_paint", "crime_tool" or "other".
	Item string `json:"item"`
	// Ground says why an "other" item is reported.
	Ground string    `json:"ground,omitempty"`
	At     time.Time `json:"at"`
	Place  string    `json:"place,omitempty"`
}

// Bool returns a pointer to b, for the optional fields of Claims.
func Bool(b bool) *bool { return &b }
