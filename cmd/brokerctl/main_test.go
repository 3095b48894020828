package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

func runCtl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), err
}

func TestInitAgencyNewAndList(t *testing.T) {
	root := t.TempDir()
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	if out, err := runCtl(t, "init", "--data", data); err != nil || !strings.Contains(out, "created broker keys") {
		t.Fatalf("init: %q %v", out, err)
	}
	if out, err := runCtl(t, "init", "--data", data); err != nil || !strings.Contains(out, "already initialised") {
		t.Fatalf("second init: %q %v", out, err)
	}
	// The home goes beside the data directory by default.
	out, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-x", "--kind", "school", "--operator", "independent", "--name", "Skola X")
	if err != nil || !strings.Contains(out, "age1pq1") || !strings.Contains(out, "--keys "+filepath.Join(agencies, "skola-x")) {
		t.Fatalf("agency new (hybrid key by default): %q %v", out, err)
	}
	for _, f := range []string{"signing.key", "age.key", "nats.nk", "pseudonym.key", "request.json"} {
		fi, err := os.Stat(filepath.Join(agencies, "skola-x", f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v", f, err, fi.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(data, "agencies")); !os.IsNotExist(err) {
		t.Fatalf("agency new wrote into the broker's folder: %v", err)
	}
	if _, err := runCtl(t, "agency", "new", "--data", data, "--agencies", filepath.Join(data, "agencies"), "--id", "skola-z",
		"--kind", "school", "--operator", "independent", "--name", "Skola Z"); err == nil {
		t.Fatal("agency new put a home in the broker's folder")
	}
	if _, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-x", "--kind", "school", "--operator", "independent", "--name", "Again"); err == nil {
		t.Fatal("agency new accepted an existing id")
	}
	if _, err := runCtl(t, "agency", "new", "--data", data, "--id", "skola-y", "--kind", "school", "--name", "No operator"); err == nil {
		t.Fatal("agency new accepted a school without operator")
	}
	if _, err := os.Stat(filepath.Join(agencies, "skola-y")); !os.IsNotExist(err) {
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
	root := t.TempDir()
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	out, err := runCtl(t, "demo", "--data", data)
	if err != nil || strings.Count(out, "created demo agency") != 4 || !strings.Contains(out, "demo auditor") {
		t.Fatalf("demo: %q %v", out, err)
	}
	list, err := os.ReadFile(filepath.Join(data, "broker", "auditors.txt"))
	if err != nil || !strings.Contains(string(list), "age1pq1") {
		t.Fatalf("auditors.txt: %q %v", list, err)
	}
	if fi, err := os.Stat(filepath.Join(agencies, "auditor", "age.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("auditor key: %v", err)
	}
	checkKeysApart(t, data, agencies)
	if out, err := runCtl(t, "demo", "--data", data); err != nil || out != "" {
		t.Fatalf("second demo run changed something: %q %v", out, err)
	}

	// A new data directory enrols the homes kept from the last one.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	out, err = runCtl(t, "demo", "--data", data, "--agencies", agencies)
	if err != nil || strings.Count(out, "enrolled demo agency") != 4 || !strings.Contains(out, "demo auditor") {
		t.Fatalf("demo with the homes of an earlier run: %q %v", out, err)
	}
	checkKeysApart(t, data, agencies)
	if _, err := runCtl(t, "demo", "--data", data, "--agencies", filepath.Join(data, "agencies")); err == nil {
		t.Fatal("demo put agency homes in the broker's folder")
	}
}

// checkKeysApart walks every file under the broker's data directory and
// finds private keys only in the broker's own key folder, and finds every
// agency's private keys in its home under agencies: what
// "grep -r 'AGE-SECRET-KEY\|PRIVATE KEY' data" shows after make run.
func checkKeysApart(t *testing.T, data, agencies string) {
	t.Helper()
	secret := regexp.MustCompile(`AGE-SECRET-KEY|PRIVATE KEY`)
	found := 0
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !secret.Match(b) {
			return nil
		}
		found++
		if rel, _ := filepath.Rel(layout.BrokerKeys(data), p); strings.HasPrefix(rel, "..") {
			t.Errorf("%s holds a private key, outside the broker's key folder %s", p, layout.BrokerKeys(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Errorf("no private key found in %s: the walk missed the broker's own", data)
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Agencies) == 0 {
		t.Fatal("no agency in the directory")
	}
	for _, a := range d.Agencies {
		home := layout.AgencyHome(agencies, a.ID)
		for _, f := range []string{keys.SigningKeyFile, keys.AgeKeyFile} {
			b, err := os.ReadFile(filepath.Join(home, f))
			if err != nil || !secret.Match(b) {
				t.Errorf("%s's %s is not in its home %s: %v", a.ID, f, home, err)
			}
		}
		if _, err := agency.LoadIdentity(home, a.ID); err != nil {
			t.Errorf("%s's home: %v", a.ID, err)
		}
	}
}
