package policy

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestExamples feeds every example input in policies/examples through the
// broker's evaluator and compares the whole decision with the one stored
// beside it, which is what stock "opa eval" returns for the same files.
func TestExamples(t *testing.T) {
	root := filepath.Join("..", "..", "policies")
	// Each example lives in examples/<name>/, so that stock opa, which loads
	// JSON files as data, gives every one its own path.
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
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			var input map[string]any
			readJSON(t, in, &input)
			var want any
			readJSON(t, strings.TrimSuffix(in, ".input.json")+".expected.json", &want)
			d, err := e.Eval(context.Background(), input)
			if err != nil {
				t.Fatal(err)
			}
			// Round-trip through JSON so numbers and nulls compare like the file.
			b, _ := json.Marshal(d.Result)
			var got any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decision differs from %s.expected.json\n got: %s", name, b)
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// BenchmarkExamples measures one decision of the real policies per example.
func BenchmarkExamples(b *testing.B) {
	root := filepath.Join("..", "..", "policies")
	e, err := Open(context.Background(), Config{Dir: root})
	if err != nil {
		b.Fatal(err)
	}
	inputs, _ := filepath.Glob(filepath.Join(root, "examples", "*", "*.input.json"))
	for _, in := range inputs {
		var input map[string]any
		raw, err := os.ReadFile(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(raw, &input); err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(filepath.Base(in), ".input.json"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(context.Background(), input); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
