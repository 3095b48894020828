package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), err
}

func TestInitAgencyNewAndList(t *testing.T) {
	data := t.TempDir()
	if out, err := runCtl(t, "init", "--data", data); err != nil || !strings.Contains(out, "created broker keys") {
		t.Fatalf("init: %q %v", out, err)
	}
	if out, err := runCtl(t, "init", "--data", data); err != nil || !strings.Contains(out, "already initialised") {
		t.Fatalf("second init: %q %v", out, err)
	}
	out, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-x", "--kind", "school", "--operator", "independent", "--name", "Skola X")
	if err != nil || !strings.Contains(out, "age1pq1") {
		t.Fatalf("agency new (hybrid key by default): %q %v", out, err)
	}
	for _, f := range []string{"signing.key", "age.key", "nats.nk"} {
		fi, err := os.Stat(filepath.Join(data, "agencies", "skola-x", f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v", f, err, fi.Mode())
		}
	}
	if _, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-x", "--kind", "school", "--operator", "independent", "--name", "Again"); err == nil {
		t.Fatal("agency new accepted an existing id")
	}
	if _, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-y", "--kind", "school", "--name", "No operator"); err == nil {
		t.Fatal("agency new accepted a school without operator")
	}
	if _, err := os.Stat(filepath.Join(data, "agencies", "skola-y")); !os.IsNotExist(err) {
		t.Fatal("a refused agency left key files behind")
	}
	out, err = runCtl(t, "agency", "new", "--data", data, "--id", "polis", "--kind", "police", "--name", "Polisen", "--x25519")
	if err != nil || strings.Contains(out, "age1pq1") {
		t.Fatalf("agency new --x25519: %q %v", out, err)
	}
	out, err = runCtl(t, "nats-config", "--data", data)
	if err != nil || !strings.Contains(out, "authorization {") || !strings.Contains(out, `"sekretess.in.skola-x"`) ||
		!strings.Contains(out, "# polis") {
		t.Fatalf("nats-config: %q %v", out, err)
	}
	out, err = runCtl(t, "agency", "list", "--data", data)
	if err != nil || !strings.Contains(out, "school/independent") || !strings.Contains(out, "polis") {
		t.Fatalf("agency list: %q %v", out, err)
	}
}

func TestDecideOffline(t *testing.T) {
	in := filepath.Join("..", "..", "policies", "examples", "r-concern", "r-concern.input.json")
	out, err := runCtl(t, "decide", "--input", in, "--policies", filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Decision map[string]any `json:"decision"`
		Revision string         `json:"revision"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Decision["allow"] != true || res.Decision["rule"] != "R-CONCERN" || len(res.Revision) != 64 {
		t.Fatalf("decide = %s", out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("[1,2]"), 0o600)
	if _, err := runCtl(t, "decide", "--input", bad, "--policies", filepath.Join("..", "..", "policies")); err == nil {
		t.Fatal("decide accepted an input that is not an object")
	}
}

func TestUsage(t *testing.T) {
	if out, err := runCtl(t); err != nil || !strings.Contains(out, "brokerctl agency new") {
		t.Fatalf("usage: %q %v", out, err)
	}
	if _, err := runCtl(t, "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestDemoCreatesAgenciesAndAuditor(t *testing.T) {
	data := t.TempDir()
	out, err := runCtl(t, "demo", "--data", data)
	if err != nil || strings.Count(out, "created demo agency") != 4 || !strings.Contains(out, "demo auditor") {
		t.Fatalf("demo: %q %v", out, err)
	}
	list, err := os.ReadFile(filepath.Join(data, "broker", "auditors.txt"))
	if err != nil || !strings.Contains(string(list), "age1pq1") {
		t.Fatalf("auditors.txt: %q %v", list, err)
	}
	if fi, err := os.Stat(filepath.Join(data, "auditor", "age.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("auditor key: %v", err)
	}
	if out, err := runCtl(t, "demo", "--data", data); err != nil || out != "" {
		t.Fatalf("second demo run changed something: %q %v", out, err)
	}
}
