package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// markerText is personal data as a sender could type it into any claim. The
// decision is copied outside the audit record's sealed part and into the
// receipt, where it can never be shredded, so it must never carry this.
const markerText = "Kalle Karlsson 20120304-2385"

// leaks reports the first marker text found in the decision document.
func leaks(d Decision) (string, bool) {
	b, err := json.Marshal(d.Result)
	if err != nil {
		return "cannot encode: " + err.Error(), true
	}
	s := string(b)
	for _, m := range []string{"MARKER-", "Kalle Karlsson", "20120304-2385"} {
		if strings.Contains(s, m) {
			return s, true
		}
	}
	return "", false
}

// claimPath is the path of a value below input.claims: string keys and
// array indexes.
type claimPath []any

func (p claimPath) String() string {
	var b strings.Builder
	b.WriteString("claims")
	for _, k := range p {
		switch k := k.(type) {
		case string:
			b.WriteString("." + k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

// stringPaths lists the path of every string below v.
func stringPaths(v any, prefix claimPath, out *[]claimPath) {
	switch x := v.(type) {
	case string:
		*out = append(*out, slices.Clone(prefix))
	case map[string]any:
		for k, y := range x {
			stringPaths(y, append(prefix, k), out)
		}
	case []any:
		for i, y := range x {
			stringPaths(y, append(prefix, i), out)
		}
	}
}

// setPath puts s at p below claims, creating the objects and arrays on the
// way. It reports false when the path runs into a value of another type.
func setPath(claims map[string]any, p claimPath, s string) bool {
	var cur any = claims
	for i, k := range p {
		last := i == len(p)-1
		var next any
		switch c := cur.(type) {
		case map[string]any:
			key, ok := k.(string)
			if !ok {
				return false
			}
			if last {
				c[key] = s
				return true
			}
			next = c[key]
			if next == nil {
				next = emptyFor(p[i+1])
				c[key] = next
			}
		case []any:
			idx, ok := k.(int)
			if !ok || idx >= len(c) {
				return false
			}
			if last {
				c[idx] = s
				return true
			}
			next = c[idx]
		default:
			return false
		}
		if a, ok := next.([]any); ok {
			// An index past the end of an array the example has extends it.
			if idx, ok := p[i+1].(int); ok && idx >= len(a) {
				for len(a) <= idx {
					a = append(a, emptyFor(nil))
				}
				switch c := cur.(type) {
				case map[string]any:
					c[k.(string)] = a
				case []any:
					c[k.(int)] = a
				}
				next = a
			}
		}
		cur = next
	}
	return false
}

func emptyFor(k any) any {
	switch k.(type) {
	case int:
		return []any{}
	case string:
		return map[string]any{}
	}
	return ""
}

// addMarkerKeys adds a key holding the marker to every object below claims,
// since the names of fields are the sender's text too.
func addMarkerKeys(v any, n *int) {
	switch x := v.(type) {
	case map[string]any:
		for _, y := range x {
			addMarkerKeys(y, n)
		}
		*n++
		x[fmt.Sprintf("MARKER-%d-%s", *n, markerText)] = "x"
	case []any:
		for _, y := range x {
			addMarkerKeys(y, n)
		}
	}
}

// replaceStrings replaces every string below v with a new marker.
func replaceStrings(v any, n *int) any {
	switch x := v.(type) {
	case string:
		*n++
		return fmt.Sprintf("MARKER-%d-%s", *n, markerText)
	case map[string]any:
		for k, y := range x {
			x[k] = replaceStrings(y, n)
		}
	case []any:
		for i, y := range x {
			x[i] = replaceStrings(y, n)
		}
	}
	return v
}

// TestNoClaimTextInDecision: a reason, basis, rule or obligation never quotes
// what the sender wrote in the claims. Each example input is decided with a
// marker in every string of its claims at once, then with the marker in one
// field at a time (so that a rule which names a field only when everything
// else holds is reached too), in every field any example uses, and with a
// marker as the name of a field.
func TestNoClaimTextInDecision(t *testing.T) {
	root := filepath.Join("..", "..", "policies")
	inputs, err := filepath.Glob(filepath.Join(root, "examples", "*", "*.input.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no examples in policies/examples")
	}
	e, err := Open(context.Background(), Config{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	// Every claim field that any example uses is tried in every example.
	var all []claimPath
	seen := map[string]bool{}
	for _, in := range inputs {
		var input map[string]any
		readJSON(t, in, &input)
		var paths []claimPath
		stringPaths(input["claims"], nil, &paths)
		for _, p := range paths {
			if !seen[p.String()] {
				seen[p.String()] = true
				all = append(all, p)
			}
		}
	}
	// Fields the rules read that no example fills with a string.
	for _, p := range []claimPath{
		{"purpose"}, {"purpose_code"}, {"sender_role"}, {"legal_basis_claimed"},
		{"consent_ref"}, {"category"}, {"investigation_status"},
		{"forwarded_from", 0}, {"meeting", "participants", 0},
		{"confiscation", "item"}, {"confiscation", "ground"}, {"confiscation", "at"},
		{"offence", "section"}, {"offence", "class"}, {"offence", "supply"},
		{"subject", "pseudonym"}, {"subject", "birth_date"}, {"subject", "name"},
		{"interest_assessment", "outcome"}, {"interest_assessment", "by"}, {"interest_assessment", "at"},
		{"necessity_assessment", "outcome"}, {"exceptional_assessment", "outcome"},
		{"general_clause_weighing", "outcome"}, {"feedback_assessment", "outcome"},
		{"fu", "relevance_assessment", "outcome"}, {"fu", "case_assessment", "outcome"},
		{"conditions_1018a", "by"}, {"conditions_1018a", "risk_of_crime", "text"},
		{"offence", "situation"}, {"custody_case", "task"}, {"custody_case", "matter"},
		{"feedback_requested_at"}, {"investigation_decided_at"}, {"secrecy_weighing", "outcome"},
		{"school_crime", "school_form"}, {"child_investigation", "decided_at"},
	} {
		if !seen[p.String()] {
			seen[p.String()] = true
			all = append(all, p)
		}
	}
	slices.SortFunc(all, func(a, b claimPath) int { return strings.Compare(a.String(), b.String()) })

	decided := 0
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			fresh := func() map[string]any {
				var input map[string]any
				readJSON(t, in, &input)
				if _, ok := input["claims"].(map[string]any); !ok {
					input["claims"] = map[string]any{}
				}
				return input
			}
			check := func(what string, input map[string]any) {
				t.Helper()
				d, err := e.Eval(context.Background(), input)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				decided++
				if s, bad := leaks(d); bad {
					t.Errorf("%s: the decision quotes claim text:\n%s", what, s)
				}
			}

			input := fresh()
			n := 0
			replaceStrings(input["claims"], &n)
			check("every string in claims", input)

			input = fresh()
			n = 0
			addMarkerKeys(input["claims"], &n)
			check("a marker as a field name in every object of claims", input)

			for i, p := range all {
				input := fresh()
				if !setPath(input["claims"].(map[string]any), p, fmt.Sprintf("MARKER-%d-%s", i, markerText)) {
					continue
				}
				check(p.String(), input)
			}
		})
	}
	if decided < len(inputs)*len(all)/2 {
		t.Fatalf("only %d decisions checked for %d examples and %d fields", decided, len(inputs), len(all))
	}
}

// TestKnowsCategory: the engine knows the policy's categories and nothing
// else, so that the broker records only a category, never the sender's text.
func TestKnowsCategory(t *testing.T) {
	e, err := Open(context.Background(), Config{Dir: filepath.Join("..", "..", "policies")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"concern", "grades", "preliminary_investigation", "aggregate_statistics"} {
		if !e.KnowsCategory(c) {
			t.Errorf("KnowsCategory(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"", "gossip", "Concern", markerText} {
		if e.KnowsCategory(c) {
			t.Errorf("KnowsCategory(%q) = true, want false", c)
		}
	}
	// A policy without a vocabulary knows no category.
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	if open(t, dir).KnowsCategory("concern") {
		t.Error("a policy without vocab.categories knows concern")
	}
}
