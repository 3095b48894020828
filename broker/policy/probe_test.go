package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/policy/policytest"
)

// repoPolicy copies the repository's policies (without tests and examples)
// into a temporary folder, so that a test can break and mend them.
func repoPolicy(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	return policytest.Copy(t, src)
}

// TestProbeFindsBrokenContract: policies that compile but cannot decide open
// unhealthy, every evaluation fails, and mending the files heals the engine.
func TestProbeFindsBrokenContract(t *testing.T) {
	dir := repoPolicy(t)
	main := filepath.Join(dir, "sekretess.rego")
	good, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	for name, broken := range map[string]string{
		"decision renamed": strings.Replace(string(good), "\ndecision := {", "\ndecision_renamed := {", 1),
		// Two complete values for one document: an evaluation conflict
		// for every input, which the compiler cannot see.
		"conflicting values": string(good) + "\nextra_decision := {\"allow\": false, \"rule\": null, \"basis\": null, \"obligations\": [], \"reasons\": [\"second\"], \"also_allowed_by\": []}\n\n" +
			"decision := extra_decision if input.message\n",
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(main, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			e, err := Open(context.Background(), Config{Dir: dir})
			if err != nil {
				t.Fatalf("Open refused a policy that compiles: %v", err)
			}
			if err := e.Healthy(); !errors.Is(err, ErrContract) {
				t.Fatalf("Healthy() = %v, want ErrContract", err)
			}
			// Whatever the input, the engine refuses to decide: the
			// pipeline holds the message.
			for _, p := range probeInputs {
				d, err := e.Eval(context.Background(), p.input)
				if !errors.Is(err, ErrEvaluation) || !errors.Is(err, ErrContract) || d.Allow || len(d.Reasons) == 0 {
					t.Fatalf("Eval(%s) = %+v, %v; want a denial with ErrEvaluation and ErrContract", p.name, d, err)
				}
			}
			if err := e.Probe(context.Background()); !errors.Is(err, ErrContract) {
				t.Fatalf("Probe() = %v, want ErrContract", err)
			}
			if err := os.WriteFile(main, good, 0o644); err != nil {
				t.Fatal(err)
			}
			if changed, err := e.Reload(context.Background()); !changed || err != nil {
				t.Fatalf("Reload of the mended policy = %v, %v", changed, err)
			}
			if err := e.Healthy(); err != nil {
				t.Fatalf("Healthy() after mending = %v", err)
			}
			d, err := e.Eval(context.Background(), probeInputs[0].input)
			if err != nil || (d.Allow && d.Rule == "") {
				t.Fatalf("Eval after mending = %+v, %v", d, err)
			}
		})
	}
}

// TestProbeAcceptsEitherOutcome: the probe checks the shape of the answer,
// not what a deployment's rules decide.
func TestProbeAcceptsEitherOutcome(t *testing.T) {
	for name, src := range map[string]string{
		"denies everything": `package sekretess` + "\n\n" + `decision := {"allow": false, "rule": null, "basis": null, "obligations": [], "reasons": ["no"]}`,
		"allows everything": `package sekretess` + "\n\n" + `decision := {"allow": true, "rule": "R-ALL", "basis": "b", "obligations": [], "reasons": []}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writePolicy(t, dir, "p.rego", src)
			e := open(t, dir)
			if err := e.Healthy(); err != nil {
				t.Fatalf("Healthy() = %v", err)
			}
			if err := e.Probe(context.Background()); err != nil {
				t.Fatalf("Probe() = %v", err)
			}
		})
	}
}

// TestProbeNoticesAChangeWithoutNewFiles: a policy whose answer depends on
// the clock can break or heal without a change of files; the periodic probe
// records what it finds.
func TestProbeNoticesAChangeWithoutNewFiles(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	e := open(t, dir)
	// Break the revision in force behind the engine's back, as a clock-bound
	// rule would: same revision, same files.
	c := *e.cur.Load()
	c.probeErr = errors.New("stale")
	e.cur.Store(&c)
	if err := e.Probe(context.Background()); err != nil {
		t.Fatalf("Probe() of a good policy = %v", err)
	}
	if err := e.Healthy(); err != nil {
		t.Fatalf("Healthy() after a good probe = %v", err)
	}
	// And the other way: a revision in force that stops answering (here a
	// broken one put in force under the good one's revision) is reported.
	broken := t.TempDir()
	writePolicy(t, broken, "p.rego", "package sekretess\n\nother := 1\n")
	bad := compile(context.Background(), broken, e.Revision())
	if bad.err != nil {
		t.Fatal(bad.err)
	}
	e.cur.Store(bad)
	if err := e.Probe(context.Background()); !errors.Is(err, ErrContract) {
		t.Fatalf("Probe() of a policy without decision = %v, want ErrContract", err)
	}
	if err := e.Healthy(); !errors.Is(err, ErrContract) {
		t.Fatalf("Healthy() after a failed probe = %v, want ErrContract", err)
	}
}

// TestProbeCutShortChangesNothing: a probe or reload whose context ends (the
// broker stopping) does not mark a good policy unhealthy.
func TestProbeCutShortChangesNothing(t *testing.T) {
	dir := t.TempDir()
	writePolicy(t, dir, "p.rego", allowPolice)
	e := open(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Probe(ctx); err != nil || e.Healthy() != nil {
		t.Fatalf("Probe with an ended context = %v, Healthy() = %v", err, e.Healthy())
	}
	writePolicy(t, dir, "p.rego", allowPolice+"\n# changed\n")
	if _, err := e.Reload(ctx); err != nil || e.Healthy() != nil {
		t.Fatalf("Reload with an ended context = %v, Healthy() = %v", err, e.Healthy())
	}
	if changed, err := e.Reload(context.Background()); !changed || err != nil || e.Healthy() != nil {
		t.Fatalf("Reload after = %v, %v", changed, err)
	}
}
