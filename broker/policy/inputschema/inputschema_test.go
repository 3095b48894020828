package inputschema_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/sekretessbroker/sekretessbroker/broker/policy/inputschema"
)

var policies = filepath.Join("..", "..", "..", "policies")

func load(t *testing.T) *inputschema.Schema {
	t.Helper()
	s, err := inputschema.Load(policies)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExamples: every example input matches the schema, or is one the
// policy denies for a problem with the input itself (such as an unknown
// message kind, which the broker passes on to the policy).
func TestExamples(t *testing.T) {
	s := load(t)
	inputs, err := filepath.Glob(filepath.Join(policies, "examples", "*", "*.input.json"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, in := range inputs {
		t.Run(strings.TrimSuffix(filepath.Base(in), ".input.json"), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Allow   bool     `json:"allow"`
				Reasons []string `json:"reasons"`
			}
			exp, err := os.ReadFile(strings.TrimSuffix(in, ".input.json") + ".expected.json")
			if err == nil {
				err = json.Unmarshal(exp, &want)
			}
			if err != nil {
				t.Fatal(err)
			}
			var input any
			if err := json.Unmarshal(raw, &input); err != nil {
				t.Fatal(err)
			}
			if err := s.CheckDecision(input, want.Allow, want.Reasons); err != nil {
				t.Fatal(err)
			}
			if err := s.ValidateJSON(raw); err != nil {
				t.Logf("outside the contract, denied for it: %v", err)
			}
		})
	}
}

// TestVocabulary: the schema's vocabularies are the policy's.
func TestVocabulary(t *testing.T) {
	s := load(t)
	for def, query := range map[string]string{
		"kind":            "data.sekretess.vocab.kinds",
		"category":        "data.sekretess.vocab.categories",
		"rule_id":         "data.sekretess.vocab.rule_ids",
		"party_kind":      "data.sekretess.lib.party_kinds",
		"school_operator": "data.sekretess.lib.school_operators",
	} {
		rs, err := rego.New(rego.Query(query), rego.Load([]string{policies}, func(abspath string, info os.FileInfo, depth int) bool {
			return info.IsDir() && info.Name() == "examples" || strings.HasSuffix(info.Name(), "_test.rego")
		})).Eval(context.Background())
		if err != nil || len(rs) != 1 {
			t.Fatalf("%s: %v %v", query, rs, err)
		}
		var policy []string
		for _, x := range rs[0].Expressions[0].Value.([]any) {
			policy = append(policy, x.(string))
		}
		schema := s.Enum(def)
		sort.Strings(policy)
		sort.Strings(schema)
		if !slices.Equal(policy, schema) {
			t.Errorf("$defs.%s in the schema is %q, %s is %q", def, schema, query, policy)
		}
	}
}

// TestRejects: the schema is no blank cheque.
func TestRejects(t *testing.T) {
	s := load(t)
	ok := `{"message":{"id":"0123456789abcdef0123456789abcdef","kind":"disclosure","created_at":"2026-01-15T10:00:00+01:00"},
		"sender":{"id":"skola","kind":"school","operator":"municipal","authority":true,"name":"Skolan"},
		"recipient":{"id":"polisen","kind":"police","authority":true,"name":"Polisen"},
		"claims":{"category":"health","legal_basis_claimed":"R-CONSENT"}}`
	if err := s.ValidateJSON([]byte(ok)); err != nil {
		t.Fatalf("a well-formed input: %v", err)
	}
	var okInput any
	if err := json.Unmarshal([]byte(ok), &okInput); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckDecision(okInput, true, nil); err != nil {
		t.Fatalf("a well-formed input allowed: %v", err)
	}
	for name, bad := range map[string][2]string{
		"unknown kind":            {`"kind":"disclosure"`, `"kind":"gossip"`},
		"created_at no time":      {`"2026-01-15T10:00:00+01:00"`, `"yesterday"`},
		"unknown party kind":      {`"kind":"police"`, `"kind":"insurance_company"`},
		"school without operator": {`"operator":"municipal",`, ``},
		"operator of the police":  {`"kind":"police",`, `"kind":"police","operator":"municipal",`},
		"unknown category":        {`"category":"health"`, `"category":"gossip"`},
		"unknown rule":            {`"R-CONSENT"`, `"R-WHATEVER"`},
		"unknown claim":           {`"category":"health"`, `"category":"health","favourite_colour":"blue"`},
		"unknown top-level field": {`"claims":`, `"extra":1,"claims":`},
	} {
		in := strings.Replace(ok, bad[0], bad[1], 1)
		if in == ok {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if err := s.ValidateJSON([]byte(in)); err == nil {
			t.Errorf("%s: the schema accepted %s", name, in)
		}
		var input any
		if err := json.Unmarshal([]byte(in), &input); err != nil {
			t.Fatal(err)
		}
		if s.CheckDecision(input, true, nil) == nil {
			t.Errorf("%s: allowing it passed the check", name)
		}
		// A claim the policy does not read may be denied for any reason.
		err := s.CheckDecision(input, false, []string{"R-CONSENT: no consent record", "no rule allows this message"})
		if inClaims := name == "unknown claim" || name == "unknown category" || name == "unknown rule"; inClaims != (err == nil) {
			t.Errorf("%s: denying it for rule reasons only: %v", name, err)
		}
		if err := s.CheckDecision(input, false, []string{"claims.category is missing", "no rule allows this message"}); err != nil {
			t.Errorf("%s: denying it for an input reason: %v", name, err)
		}
	}
}
