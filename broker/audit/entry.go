package audit

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// DecisionPath is the policy path of every decision, as OPA's decision log
// names it.
const DecisionPath = "sekretess/decision"

// Entry is one audit record: the exact bytes of its JSON form are a leaf of
// the Merkle tree. The top-level fields are those of OPA's decision log, so
// that its tooling can read the stream; Decision is the broker's own record
// (metadata only); Personal is sealed to the auditors.
type Entry struct {
	DecisionID string `json:"decision_id"`
	Path       string `json:"path"`
	// Input names the policy input by its hash: the input itself holds
	// personal data and never enters the log.
	Input     InputRef          `json:"input"`
	Result    Result            `json:"result"`
	Bundles   map[string]Bundle `json:"bundles,omitempty"`
	Timestamp time.Time         `json:"timestamp"`

	Decision decision.Record `json:"decision"`
	Personal *Sealed         `json:"personal,omitempty"`
}

// InputRef identifies a policy input without holding it.
type InputRef struct {
	SHA256 string `json:"sha256,omitempty"`
}

// Result is the policy's answer in decision-log form.
type Result struct {
	Allow       bool     `json:"allow"`
	Rule        string   `json:"rule,omitempty"`
	Basis       string   `json:"basis,omitempty"`
	Obligations []string `json:"obligations,omitempty"`
	Reasons     []string `json:"reasons,omitempty"`
	ErrorCode   string   `json:"error_code,omitempty"`
}

// Bundle is the revision of a policy bundle, as in OPA's decision log.
type Bundle struct {
	Revision string `json:"revision"`
}

// newEntry builds the entry of rec without personal fields.
func newEntry(rec *decision.Record) *Entry {
	e := &Entry{
		DecisionID: rec.DecisionID,
		Path:       DecisionPath,
		Input:      InputRef{SHA256: rec.InputSHA256},
		Result: Result{Allow: rec.Allowed(), Rule: rec.Rule, Basis: rec.Basis,
			Obligations: rec.Obligations, Reasons: rec.Reasons, ErrorCode: rec.ErrorCode},
		Timestamp: rec.DecidedAt.UTC(),
		Decision:  *rec,
	}
	if rec.PolicyRevision != "" {
		e.Bundles = map[string]Bundle{"sekretess": {Revision: rec.PolicyRevision}}
	}
	return e
}

// ParseEntry decodes the bytes of one record.
func ParseEntry(data []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("audit: record does not decode: %w", err)
	}
	if e.DecisionID == "" || e.DecisionID != e.Decision.DecisionID {
		return nil, fmt.Errorf("audit: record has no decision id or two different ones (%q, %q)", e.DecisionID, e.Decision.DecisionID)
	}
	return &e, nil
}

// dedupeKey is the record's Nats-Msg-Id. It names the inbound message: a
// redelivery of the same inbound message is the same decision, a replay of
// an envelope is a new inbound message and a new one. It also names the
// envelope, so that a recreated inbound stream, whose sequences start over,
// never maps a new message onto an old one's decision.
func dedupeKey(rec *decision.Record) string {
	if rec.InboundSeq == 0 {
		return "decision-" + rec.DecisionID
	}
	key := "inbound-" + strconv.FormatUint(rec.InboundSeq, 10)
	if len(rec.EnvelopeSHA256) >= 32 {
		key += "-" + rec.EnvelopeSHA256[:32]
	}
	return key
}

// Personal holds the fields of a decision that identify a person. They are
// sealed before they enter the log and only auditors can open them.
type Personal struct {
	// Pseudonym is claims.subject.pseudonym.
	Pseudonym string `json:"pseudonym,omitempty"`
	// Assessments are the human judgements in the claims ({by, at, outcome,
	// reason} and condition texts), keyed by their path in the claims.
	Assessments map[string]any `json:"assessments,omitempty"`
	// Purpose and PurposeCode are claims.purpose and claims.purpose_code:
	// why the data was asked for or passed on. The free text may name a
	// person, so it is sealed like the rest.
	Purpose     string `json:"purpose,omitempty"`
	PurposeCode string `json:"purpose_code,omitempty"`
	// SenderRole is claims.sender_role: the role of the official who sent
	// the message (who asked, with Assessments' "by" naming who judged).
	SenderRole string `json:"sender_role,omitempty"`
	// SenderOfficial is claims.sender_official: the name of the official who
	// sent or asked.
	SenderOfficial string `json:"sender_official,omitempty"`
	// SubjectOf lists the earlier messages (reply_to, forwarded_from) whose
	// subject this message is about when its own claims name none. The
	// broker cannot open earlier records' sealed fields, so it records the
	// link; an auditor who opens both follows it (see Subjects).
	SubjectOf []string `json:"subject_of,omitempty"`
}

// Empty reports whether p holds nothing to seal.
func (p *Personal) Empty() bool {
	return p == nil || (p.Pseudonym == "" && len(p.Assessments) == 0 && p.Purpose == "" &&
		p.PurposeCode == "" && p.SenderRole == "" && p.SenderOfficial == "" && len(p.SubjectOf) == 0)
}

// PersonalFromClaims takes the personal fields out of a message's claims: the
// subject's pseudonym, the purpose, the sender's role and name, and every object that
// records a judgement by a person (it has "by" and "at", or a "reason" or
// "text").
func PersonalFromClaims(claims map[string]any) *Personal {
	p := &Personal{}
	if s, ok := claims["subject"].(map[string]any); ok {
		p.Pseudonym, _ = s["pseudonym"].(string)
	}
	p.Purpose, _ = claims["purpose"].(string)
	p.PurposeCode, _ = claims["purpose_code"].(string)
	p.SenderRole, _ = claims["sender_role"].(string)
	p.SenderOfficial, _ = claims["sender_official"].(string)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			_, by := x["by"]
			_, at := x["at"]
			_, reason := x["reason"]
			_, text := x["text"]
			if (by && at) || reason || text {
				if p.Assessments == nil {
					p.Assessments = map[string]any{}
				}
				p.Assessments[path] = x
				return
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(join(path, k), x[k])
			}
		case []any:
			for i, y := range x {
				walk(join(path, strconv.Itoa(i)), y)
			}
		}
	}
	walk("", claims)
	return p
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
