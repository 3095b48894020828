package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const allowPolice = `package sekretess

default decision := {"allow": false, "rule": null, "basis": null, "obligations": [], "reasons": ["denied by default"]}

decision := {"allow": true, "rule": "R-TEST", "basis": "test", "obligations": ["b", "a"], "reasons": []} if {
	input.sender.kind == "police"
}
`

func writePolicy(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, dir string) *Engine {
	t.Helper()
	e, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func input(kind string) map[string]any {
	return map[string]any{"sender": map[string]any{"kind": kind}}
}

func TestEvalAllowAndDeny(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	// Tests and examples beside the policy must not be loaded.
	writePolicy(t, dir, "p_test.rego", "package sekretess\n\nthis is not rego\n")
	os.Mkdir(filepath.Join(dir, "examples"), 0o755)
	writePolicy(t, filepath.Join(dir, "examples"), "x.input.json", `{"a": 1}`)
	e := open(t, dir)

	d, err := e.Eval(context.Background(), input("police"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.Rule != "R-TEST" || d.Basis != "test" || len(d.Obligations) != 2 || d.Revision == "" {
		t.Fatalf("allow decision = %+v", d)
	}
	d, err = e.Eval(context.Background(), input("school"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || len(d.Reasons) != 1 || d.Reasons[0] != "denied by default" {
		t.Fatalf("deny decision = %+v", d)
	}
}

func TestOpenFailsOnBrokenPolicy(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", "package sekretess\n\ndecision := {\n")
	if _, err := Open(context.Background(), Config{Dir: dir}); err == nil {
		t.Fatal("Open accepted a policy that does not compile")
	}
	if _, err := Open(context.Background(), Config{Dir: t.TempDir()}); err == nil {
		t.Fatal("Open accepted an empty policy directory")
	}
}

func TestReloadFailsClosedAndRecovers(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	e := open(t, dir)
	rev := e.Revision()

	writePolicy(t, dir, "p.rego", allowPolice+"\nbroken := {\n")
	changed, err := e.Reload(context.Background())
	if !changed || err == nil {
		t.Fatalf("Reload of a broken policy = %v, %v; want changed and an error", changed, err)
	}
	d, err := e.Eval(context.Background(), input("police"))
	if !errors.Is(err, ErrEvaluation) || d.Allow || len(d.Reasons) == 0 {
		t.Fatalf("after a failed reload Eval = %+v, %v; want a denial with ErrEvaluation", d, err)
	}
	if e.Healthy() == nil {
		t.Fatal("Healthy() = nil after a failed reload")
	}

	writePolicy(t, dir, "p.rego", allowPolice)
	if _, err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e.Revision() != rev {
		t.Fatalf("revision of the same files changed: %s vs %s", e.Revision(), rev)
	}
	if d, err := e.Eval(context.Background(), input("police")); err != nil || !d.Allow {
		t.Fatalf("after recovery Eval = %+v, %v", d, err)
	}
	if changed, err := e.Reload(context.Background()); changed || err != nil {
		t.Fatalf("Reload without changes = %v, %v", changed, err)
	}
}

// TestReloadRetriesAFailedRevision: a compile that failed for a revision whose
// files are fine (they were read while being written) does not stick.
func TestReloadRetriesAFailedRevision(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	e := open(t, dir)
	e.cur.Store(&compiled{revision: e.Revision(), err: errors.New("p.rego: unexpected eof")})
	if changed, err := e.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("Reload after a failed compile of good files = %v, %v", changed, err)
	}
	if d, err := e.Eval(context.Background(), input("police")); err != nil || !d.Allow || e.Healthy() != nil {
		t.Fatalf("after the retry Eval = %+v, %v", d, err)
	}
}

func TestMalformedDecisionsAreDenied(t *testing.T) {
	for name, src := range map[string]string{
		"undefined":       "package sekretess\n\nother := 1\n",
		"not an object":   "package sekretess\n\ndecision := true\n",
		"allow not bool":  `package sekretess` + "\n\n" + `decision := {"allow": "yes", "rule": "R", "basis": "b", "reasons": []}`,
		"allow no rule":   `package sekretess` + "\n\n" + `decision := {"allow": true, "rule": null, "basis": null, "reasons": []}`,
		"deny no reason":  `package sekretess` + "\n\n" + `decision := {"allow": false, "rule": null, "basis": null, "reasons": []}`,
		"reasons not str": `package sekretess` + "\n\n" + `decision := {"allow": false, "rule": null, "basis": null, "reasons": [1]}`,
		"builtin error":   "package sekretess\n\ndecision := {\"allow\": true, \"rule\": \"R\", \"basis\": x, \"reasons\": []} if { x := 1 / 0 }\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writePolicy(t, dir, "p.rego", src)
			e := open(t, dir)
			d, err := e.Eval(context.Background(), input("police"))
			if !errors.Is(err, ErrEvaluation) || d.Allow || len(d.Reasons) == 0 {
				t.Fatalf("Eval = %+v, %v; want a denial with ErrEvaluation", d, err)
			}
		})
	}
}

func TestInputHashIsCanonical(t *testing.T) {
	a, _ := InputHash(map[string]any{"b": 1, "a": map[string]any{"y": 2, "x": 1}})
	b, _ := InputHash(map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": 1})
	if a != b || len(a) != 64 {
		t.Fatalf("InputHash not canonical: %s vs %s", a, b)
	}
}

func BenchmarkEval(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(allowPolice), 0o644); err != nil {
		b.Fatal(err)
	}
	e, err := Open(context.Background(), Config{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	in := input("police")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
