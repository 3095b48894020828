package directory

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
)

func userKey(t *testing.T) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestAuditors: auditors are written and read back; a directory without
// them still parses; a bad name, a bad or shared nkey and an unknown field
// are refused.
func TestAuditors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.yaml")
	d := newDirectory(t, Agency{ID: "polisen-syd", Kind: KindPolice, Name: "Polisen"})
	if err := Write(path, d); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || len(got.Auditors) != 0 {
		t.Fatalf("a directory without auditors: %+v %v", got, err)
	}
	nk := userKey(t)
	d.Auditors = []Auditor{{Name: "auditor", NKey: nk}}
	if err := Write(path, d); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || len(got.Auditors) != 1 || got.Auditors[0] != (Auditor{Name: "auditor", NKey: nk}) {
		t.Fatalf("auditors read back: %+v %v", got, err)
	}
	b, err := got.Marshal()
	if err != nil || !strings.Contains(string(b), "auditors:") {
		t.Fatalf("marshal: %s %v", b, err)
	}

	agencyKey := userKey(t)
	d.Agencies[0].NATS.NKey = agencyKey
	for name, auditors := range map[string][]Auditor{
		"bad name":         {{Name: "Auditor One", NKey: nk}},
		"not an nkey":      {{Name: "auditor", NKey: "UABC"}},
		"a seed":           {{Name: "auditor", NKey: "SUABC"}},
		"twice":            {{Name: "auditor", NKey: nk}, {Name: "auditor", NKey: userKey(t)}},
		"shared nkey":      {{Name: "a1", NKey: nk}, {Name: "a2", NKey: nk}},
		"an agency's nkey": {{Name: "auditor", NKey: agencyKey}},
	} {
		bad := *d
		bad.Auditors = auditors
		err := Write(filepath.Join(t.TempDir(), "d.yaml"), &bad)
		if err == nil || !strings.Contains(err.Error(), "auditor") {
			t.Errorf("%s: %v", name, err)
		}
	}
	strict := strings.Replace(string(b), "auditors:", "auditors:\n- name: x\n  nkey: "+nk+"\n  role: reader\n", 1)
	if _, err := Parse([]byte(strict)); err == nil {
		t.Error("an unknown auditor field was accepted")
	}
}
