package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
)

func TestKeygenAddRotateRevoke(t *testing.T) {
	data := t.TempDir()
	if _, err := runCtl(t, "init", "--data", data); err != nil {
		t.Fatal(err)
	}
	away := filepath.Join(t.TempDir(), "soc") // the agency's machine
	out, err := runCtl(t, "agency", "keygen", "--id", "soc", "--kind", "social_services", "--name", "Socialtjänsten", "--out", away)
	if err != nil {
		t.Fatalf("keygen: %q %v", out, err)
	}
	kid := regexp.MustCompile(`k-[0-9a-f]{16}`).FindString(out)
	if kid == "" {
		t.Fatalf("keygen does not print the key id: %q", out)
	}
	if _, err := os.Stat(filepath.Join(away, "pseudonym.key")); err == nil {
		t.Fatal("keygen wrote a pseudonym key")
	}
	if out, err = runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(away, enroll.RequestFile)); err != nil {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, err := os.Stat(layout.AgencyKeys(data, "soc")); err == nil {
		t.Fatal("add created key files on the broker's side")
	}
	if out, err = runCtl(t, "agency", "list", "--data", data); err != nil || !strings.Contains(out, "soc") {
		t.Fatalf("list after add: %q %v", out, err)
	}

	next := filepath.Join(t.TempDir(), "soc-2")
	if out, err = runCtl(t, "agency", "rotate", "--id", "soc", "--keys", away, "--out", next); err != nil {
		t.Fatalf("rotate: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(next, enroll.RequestFile)); err != nil ||
		!strings.Contains(out, "agency revoke --id soc --key "+kid) {
		t.Fatalf("add rotation: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "revoke", "--data", data, "--id", "soc", "--key", kid, "--reason", "superseded"); err != nil {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "keys", "--data", data, "--id", "soc"); err != nil ||
		!strings.Contains(out, kid+"  revoked") || strings.Count(out, "valid") != 1 {
		t.Fatalf("agency keys: %q %v", out, err)
	}
	if out, err = runCtl(t, "agency", "keys", "--data", data, "--id", "broker"); err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("agency keys --id broker: %q %v", out, err)
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := d.Lookup("soc")
	if len(a.Keys) != 2 || a.Keys[0].ID != kid || a.Keys[0].RevokedAt == nil || a.Keys[0].RevokedReason != "superseded" || a.Keys[1].RevokedAt != nil {
		t.Fatalf("keys after rotate and revoke: %+v", a.Keys)
	}
	if _, err := runCtl(t, "agency", "revoke", "--data", data, "--id", "soc", "--key", kid); err == nil {
		t.Fatal("revoke without a reason succeeded")
	}
	if _, err := runCtl(t, "agency", "add", "--data", data, "--request", filepath.Join(away, enroll.RequestFile)); err == nil {
		t.Fatal("the same enrollment was added twice")
	}
}
