// Package inputschema checks policy inputs against the input contract,
// policies/input.schema.json (JSON Schema 2020-12). The policy does not need
// it to decide: it denies whatever does not match. The schema documents the
// contract, and the tests check that every example and every input the
// broker builds matches it, so that the document stays true.
package inputschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// File is the schema's name in the policy directory.
const File = "input.schema.json"

// Schema is a compiled input schema.
type Schema struct {
	path string
	s    *jsonschema.Schema
	// Defs holds the schema's $defs as written, so that tests can compare
	// its vocabularies with the policy's.
	Defs map[string]any
}

// Load compiles the schema in the policy directory dir. Formats (date-time,
// date) are checked, not only annotated.
func Load(dir string) (*Schema, error) {
	path := filepath.Join(dir, File)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inputschema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("inputschema: %s is not JSON: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	// Registered under the file name, so that the schema's own $id (a URL)
	// is never fetched.
	loc := "file:///" + File
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("inputschema: %s: %w", path, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("inputschema: %s does not compile: %w", path, err)
	}
	var top struct {
		Defs map[string]any `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("inputschema: %s: %w", path, err)
	}
	return &Schema{path: path, s: s, Defs: top.Defs}, nil
}

// Validate reports how input, a JSON value or a Go value that encodes to
// one (such as the map the broker builds), breaks the schema, or nil.
func (s *Schema) Validate(input any) error {
	raw, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("inputschema: input does not encode as JSON: %w", err)
	}
	return s.ValidateJSON(raw)
}

// ValidateJSON is Validate for an input in JSON.
func (s *Schema) ValidateJSON(raw []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("inputschema: input is not JSON: %w", err)
	}
	if err := s.s.Validate(v); err != nil {
		return fmt.Errorf("input does not match %s: %w", s.path, err)
	}
	return nil
}

// Enum returns the values of the enum of $defs[name], or nil.
func (s *Schema) Enum(name string) []string {
	d, _ := s.Defs[name].(map[string]any)
	list, _ := d["enum"].([]any)
	var out []string
	for _, x := range list {
		if v, ok := x.(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// CheckDecision checks an input against the schema together with the
// decision the policy made on it. An input that breaks the schema must be
// denied; where it breaks it outside claims (the broker's facts, or a
// message kind the policy does not know), the denial must give a reason
// about the input itself: a reason that names no rule, other than "no rule
// allows this message". Claims are the sender's text and may hold anything:
// a claim field the policy does not read is ignored, and the message is
// decided on the rest. CheckDecision returns nil for an input that matches,
// and for one that breaks the schema and is denied so.
func (s *Schema) CheckDecision(input any, allow bool, reasons []string) error {
	err := s.Validate(input)
	if err == nil {
		return nil
	}
	if allow {
		return fmt.Errorf("the policy allowed an input that breaks the schema: %w", err)
	}
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) && onlyClaims(verr) {
		return nil
	}
	for _, r := range reasons {
		if r != "no rule allows this message" && !namesRule(r) {
			return nil
		}
	}
	return fmt.Errorf("the policy denied an input that breaks the schema, but for no reason about the input (%q): %w", reasons, err)
}

// onlyClaims reports whether every failure in e lies inside input.claims.
func onlyClaims(e *jsonschema.ValidationError) bool {
	if len(e.Causes) == 0 {
		return len(e.InstanceLocation) > 0 && e.InstanceLocation[0] == "claims"
	}
	for _, c := range e.Causes {
		if !onlyClaims(c) {
			return false
		}
	}
	return true
}

// namesRule reports whether a reason is a rule's, prefixed "R-…: ".
func namesRule(r string) bool {
	id, _, ok := strings.Cut(r, ": ")
	return ok && strings.HasPrefix(id, "R-") && !strings.ContainsAny(id, " \t")
}
