package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func readSchema(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// TestConvert: one file per kind under kubeconform's name for it, each
// with the definitions it reaches and no others, strict, with the loose
// wire types and the kind's own apiVersion and kind.
func TestConvert(t *testing.T) {
	out := t.TempDir()
	n, err := convert(filepath.Join("testdata", "swagger.json"), out)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"deployment-apps-v1.json", "service-v1.json"}; n != 2 || !slices.Equal(names, want) {
		t.Fatalf("wrote %d: %v, want %v (DeleteOptions belongs to many groups and is no resource)", n, names, want)
	}

	d := readSchema(t, filepath.Join(out, "deployment-apps-v1.json"))
	if d["additionalProperties"] != false {
		t.Error("the Deployment takes undeclared fields")
	}
	props := d["properties"].(map[string]any)
	if got := props["apiVersion"].(map[string]any)["enum"]; !slices.Equal(got.([]any), []any{"apps/v1"}) {
		t.Errorf("apiVersion enum %v", got)
	}
	if got := props["kind"].(map[string]any)["enum"]; !slices.Equal(got.([]any), []any{"Deployment"}) {
		t.Errorf("kind enum %v", got)
	}
	defs := d["definitions"].(map[string]any)
	var reached []string
	for name := range defs {
		reached = append(reached, name)
	}
	slices.Sort(reached)
	want := []string{
		"io.k8s.api.apps.v1.DeploymentSpec",
		"io.k8s.apiextensions.v1.JSONSchemaProps",
		"io.k8s.apimachinery.pkg.api.resource.Quantity",
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString",
	}
	if !slices.Equal(reached, want) {
		t.Errorf("definitions %v, want %v", reached, want)
	}
	spec := defs["io.k8s.api.apps.v1.DeploymentSpec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Error("DeploymentSpec takes undeclared fields")
	}
	sp := spec["properties"].(map[string]any)
	if item := sp["containers"].(map[string]any)["items"].(map[string]any); item["additionalProperties"] != false {
		t.Error("an array's items take undeclared fields")
	}
	if labels := sp["labels"].(map[string]any); labels["additionalProperties"].(map[string]any)["type"] != "string" {
		t.Errorf("a map of strings became %v", labels)
	}
	ios := defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].(map[string]any)
	if _, ok := ios["type"]; ok || len(ios["oneOf"].([]any)) != 2 {
		t.Errorf("IntOrString %v, want a string or an integer", ios)
	}
	if q := defs["io.k8s.apimachinery.pkg.api.resource.Quantity"].(map[string]any); len(q["oneOf"].([]any)) != 2 {
		t.Errorf("Quantity %v, want a string or a number", q)
	}
	// A property named "properties" is a property, not the keyword.
	jp := defs["io.k8s.apiextensions.v1.JSONSchemaProps"].(map[string]any)["properties"].(map[string]any)
	if len(jp) != 1 || jp["properties"] == nil {
		t.Errorf("JSONSchemaProps' properties became %v", jp)
	}

	s := readSchema(t, filepath.Join(out, "service-v1.json"))
	if got := s["properties"].(map[string]any)["apiVersion"].(map[string]any)["enum"]; !slices.Equal(got.([]any), []any{"v1"}) {
		t.Errorf("core apiVersion enum %v", got)
	}
	if _, ok := s["definitions"]; ok {
		t.Error("Service reaches no definition but has some")
	}
}

// TestConvertRejects: a document that is not the Kubernetes API's, or that
// refers to a definition it lacks, is an error, not a set of empty schemas.
func TestConvertRejects(t *testing.T) {
	dir := t.TempDir()
	for name, doc := range map[string]string{
		"empty":    `{"swagger": "2.0"}`,
		"dangling": `{"definitions": {"a.B": {"properties": {"x": {"$ref": "#/definitions/a.C"}}, "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "B"}]}}}`,
		"no kinds": `{"definitions": {"a.B": {"type": "string"}}}`,
	} {
		spec := filepath.Join(dir, name+".json")
		if err := os.WriteFile(spec, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := convert(spec, filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
