package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPersonalFromClaims(t *testing.T) {
	var claims map[string]any
	err := json.Unmarshal([]byte(`{
		"category": "crime_suspicion",
		"subject": {"pseudonym": "elev-4711", "age": 15},
		"interest_assessment": {"by": "rektor", "at": "2026-11-01T10:00:00Z", "outcome": "disclose", "reason": "fara för eleven"},
		"fu": {"concern_report_made": true,
		       "relevance_assessment": {"by": "utredare", "at": "2026-11-01T09:00:00Z", "outcome": "relevant", "reason": "samma händelse"}},
		"conditions_1018a": {"by": "socialsekreterare", "at": "2026-11-01T08:00:00Z",
		       "risk_of_crime": {"met": true, "text": "hot om våld"}},
		"purpose": "orosanmälan",
		"purpose_code": "welfare",
		"sender_role": "rector"
	}`), &claims)
	if err != nil {
		t.Fatal(err)
	}
	p := PersonalFromClaims(claims)
	if p.Pseudonym != "elev-4711" {
		t.Fatalf("pseudonym = %q", p.Pseudonym)
	}
	for _, path := range []string{"interest_assessment", "fu.relevance_assessment", "conditions_1018a"} {
		if p.Assessments[path] == nil {
			t.Errorf("assessment %s not taken: %v", path, p.Assessments)
		}
	}
	if p.Purpose != "orosanmälan" || p.PurposeCode != "welfare" || p.SenderRole != "rector" {
		t.Errorf("who asked and why not taken: purpose %q, code %q, role %q", p.Purpose, p.PurposeCode, p.SenderRole)
	}
	if len(p.Assessments) != 3 {
		t.Errorf("assessments = %v, want exactly three", p.Assessments)
	}
	if !PersonalFromClaims(map[string]any{"category": "aggregate_statistics"}).Empty() {
		t.Error("claims without a person give personal fields")
	}
}

// TestEntryIsDecisionLog checks the OPA decision-log fields of a record.
func TestEntryIsDecisionLog(t *testing.T) {
	r := rec(1, time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC))
	b, err := json.Marshal(newEntry(r))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	res, _ := m["result"].(map[string]any)
	bundles, _ := m["bundles"].(map[string]any)
	if m["decision_id"] != r.DecisionID || m["path"] != "sekretess/decision" || m["timestamp"] != "2026-11-02T03:04:05Z" ||
		m["input"].(map[string]any)["sha256"] != r.InputSHA256 || res["allow"] != true || res["rule"] != "R-CONCERN" ||
		bundles["sekretess"].(map[string]any)["revision"] != "rev-1" {
		t.Fatalf("decision-log fields: %s", b)
	}
	if _, err := ParseEntry(b); err != nil {
		t.Fatal(err)
	}
}
