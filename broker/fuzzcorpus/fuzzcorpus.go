// Package fuzzcorpus keeps the seed corpora of native Go fuzz targets
// (testdata/fuzz/<target>/) in step with the test code that generates them.
//
// Seeds are real values, such as a signed receipt or an audit export, made
// with fixed test keys, so the files can be checked in and a fuzz target can
// verify them. A package's corpus test lists its seeds and calls Check, which
// fails when a file is missing or stale; run the test with
// SEKRETESS_UPDATE_CORPUS=1 to rewrite the files. Files the fuzzer adds (the
// failing inputs it found) are left alone.
package fuzzcorpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// UpdateEnv is the environment variable that makes Check rewrite the seed files.
const UpdateEnv = "SEKRETESS_UPDATE_CORPUS"

// Marshal encodes the arguments of one fuzz input in the corpus file format
// of "go test fuzz v1". It supports the argument types the targets use:
// []byte, string, byte, uint16, uint32, int64 and bool.
func Marshal(args ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		case uint32:
			fmt.Fprintf(&b, "uint32(%d)\n", v)
		case int64:
			fmt.Fprintf(&b, "int64(%d)\n", v)
		case bool:
			fmt.Fprintf(&b, "bool(%t)\n", v)
		default:
			return nil, fmt.Errorf("fuzzcorpus: argument type %T is not supported", a)
		}
	}
	return b.Bytes(), nil
}

// Check compares the seed files testdata/fuzz/<target>/seed-<name> with
// seeds (name to the arguments of one input). With SEKRETESS_UPDATE_CORPUS=1
// in the environment it writes them instead.
func Check(t testing.TB, target string, seeds map[string][]any) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	update := os.Getenv(UpdateEnv) == "1"
	if update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want, err := Marshal(seeds[name]...)
		if err != nil {
			t.Fatalf("%s/%s: %v", target, name, err)
		}
		path := filepath.Join(dir, "seed-"+name)
		if update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: seed file missing; run the test with %s=1 to write it: %v", path, UpdateEnv, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run the test with %s=1 to rewrite it", path, UpdateEnv)
		}
	}
}
