// Command k8sschema turns the Kubernetes API's OpenAPI v2 document into the
// JSON schemas kubeconform validates manifests with, so that the manifests
// in deploy/k8s are checked without downloading schemas from elsewhere:
//
//	go run ./deploy/k8sschema -spec .../api/openapi-spec/swagger.json -out DIR
//
// The document comes from the k8s.io/kubernetes module (see the Makefile's
// k8s-schemas target). For each kind it writes DIR/<kind>[-<group>]-<version>.json,
// the name kubeconform's -schema-location template
// {{ .ResourceKind }}{{ .KindSuffix }}.json asks for: the kind's schema with
// every definition it refers to under "definitions", so each file stands
// alone. The schemas are strict, as kubectl's validation is: an object with
// declared properties takes no others, so a misspelt field is an error.
// IntOrString takes a string or an integer and Quantity a string or a
// number, as the API server does; apiVersion and kind must be the file's.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	spec := flag.String("spec", "", "the OpenAPI v2 document (swagger.json) of the Kubernetes API")
	out := flag.String("out", "", "directory to write the schemas to (created)")
	flag.Parse()
	if *spec == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschema -spec swagger.json -out DIR")
		os.Exit(2)
	}
	n, err := convert(*spec, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Printf("k8sschema: %d schemas in %s\n", n, *out)
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// apiVersion is gvk's apiVersion field: "v1" for the core group,
// "<group>/<version>" for the others.
func (g gvk) apiVersion() string {
	if g.Group == "" {
		return g.Version
	}
	return g.Group + "/" + g.Version
}

// fileName is kubeconform's {{ .ResourceKind }}{{ .KindSuffix }}.json for
// g: the lower-case kind, the first label of the group if any, the version.
func (g gvk) fileName() string {
	name := strings.ToLower(g.Kind)
	if g.Group != "" {
		name += "-" + strings.ToLower(strings.Split(g.Group, ".")[0])
	}
	return name + "-" + strings.ToLower(g.Version) + ".json"
}

const refPrefix = "#/definitions/"

// Definitions whose wire form the API server accepts in more than one JSON
// type, which the OpenAPI document declares only as strings.
var looseTypes = map[string]any{
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}},
	"io.k8s.apimachinery.pkg.api.resource.Quantity":   []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}},
}

// convert writes a schema for every kind of the document at spec into out
// and returns how many.
func convert(spec, out string) (int, error) {
	b, err := os.ReadFile(spec)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", spec, err)
	}
	defs := doc.Definitions
	if len(defs) == 0 {
		return 0, fmt.Errorf("%s has no definitions: not an OpenAPI v2 document of the Kubernetes API", spec)
	}
	for name, d := range defs {
		if alts, ok := looseTypes[name]; ok {
			defs[name] = map[string]any{"description": d["description"], "oneOf": alts}
			continue
		}
		strict(d)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, err
	}
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		kinds, err := kindsOf(defs[name])
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		// Definitions shared by many kinds (DeleteOptions, WatchEvent) are
		// not resources of their own.
		if len(kinds) != 1 {
			continue
		}
		schema, err := standalone(defs, name, kinds[0])
		if err != nil {
			return n, err
		}
		data, err := json.MarshalIndent(schema, "", " ")
		if err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(out, kinds[0].fileName()), append(data, '\n'), 0o644); err != nil {
			return n, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("no definition names a kind (x-kubernetes-group-version-kind)")
	}
	return n, nil
}

func kindsOf(def map[string]any) ([]gvk, error) {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var kinds []gvk
	if err := json.Unmarshal(b, &kinds); err != nil {
		return nil, fmt.Errorf("x-kubernetes-group-version-kind: %w", err)
	}
	return kinds, nil
}

// strict forbids, in schema and the schemas inside it, properties an object
// does not declare. It walks schema keywords only, so a property that is
// itself named "properties" is not taken for one.
func strict(schema map[string]any) {
	if props, ok := schema["properties"].(map[string]any); ok {
		if _, set := schema["additionalProperties"]; !set {
			schema["additionalProperties"] = false
		}
		for _, p := range props {
			if ps, ok := p.(map[string]any); ok {
				strict(ps)
			}
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if s, ok := schema[key].(map[string]any); ok {
			strict(s)
		}
	}
	for _, key := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := schema[key].([]any); ok {
			for _, s := range list {
				if sm, ok := s.(map[string]any); ok {
					strict(sm)
				}
			}
		}
	}
}

// standalone is the schema of the definition name, for the kind k, with
// every definition it refers to, directly or not, under "definitions".
func standalone(defs map[string]map[string]any, name string, k gvk) (map[string]any, error) {
	reached := map[string]any{}
	var visit func(v any) error
	visit = func(v any) error {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target, ok := strings.CutPrefix(ref, refPrefix)
				if !ok {
					return fmt.Errorf("%s: reference %q is not to a definition", name, ref)
				}
				if _, done := reached[target]; !done {
					d, ok := defs[target]
					if !ok {
						return fmt.Errorf("%s: reference to %s, which is not defined", name, target)
					}
					reached[target] = d
					if err := visit(d); err != nil {
						return err
					}
				}
			}
			for _, e := range v {
				if err := visit(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range v {
				if err := visit(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	root := defs[name]
	if err := visit(root); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(root)+2)
	for key, v := range root {
		out[key] = v
	}
	// The document's own apiVersion and kind, and only those.
	props := map[string]any{}
	if p, ok := root["properties"].(map[string]any); ok {
		for key, v := range p {
			props[key] = v
		}
	}
	props["apiVersion"] = map[string]any{"type": "string", "enum": []any{k.apiVersion()}}
	props["kind"] = map[string]any{"type": "string", "enum": []any{k.Kind}}
	out["properties"] = props
	out["$schema"] = "http://json-schema.org/draft-04/schema#"
	if len(reached) > 0 {
		out["definitions"] = reached
	}
	return out, nil
}
