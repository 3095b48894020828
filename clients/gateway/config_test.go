package gateway_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/gateway"
)

// TestFindHome finds an agency's home and the directory in each layout a
// data folder can have.
func TestFindHome(t *testing.T) {
	apart := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(brokertest.School)})
	inside := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(brokertest.School), KeysInData: true})
	for _, tc := range []struct {
		name, data, home, dir string
	}{
		{"homes beside the data folder (brokerctl demo)", apart.Data, apart.Home(brokertest.School), layout.Directory(apart.Data)},
		{"the folder above data and agencies", filepath.Dir(apart.Data), apart.Home(brokertest.School), layout.Directory(apart.Data)},
		{"keys inside the data folder (older layout)", inside.Data, inside.Home(brokertest.School), layout.Directory(inside.Data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home, dir, err := gateway.FindHome(tc.data, brokertest.School, "", "")
			if err != nil || filepath.Clean(home) != filepath.Clean(tc.home) || filepath.Clean(dir) != filepath.Clean(tc.dir) {
				t.Fatalf("FindHome: %s, %s, %v; want %s, %s", home, dir, err, tc.home, tc.dir)
			}
		})
	}
	if _, _, err := gateway.FindHome(apart.Data, "skola-x", "", ""); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "--keys") {
		t.Errorf("an agency without a home: %v", err)
	}
}

// TestEnsureToken writes the token once, mode 0600, and reads it after.
func TestEnsureToken(t *testing.T) {
	home := t.TempDir()
	tok, created, err := gateway.EnsureToken(home)
	if err != nil || !created || len(tok) < 32 {
		t.Fatalf("first start: %q %v %v", tok, created, err)
	}
	fi, err := os.Stat(filepath.Join(home, gateway.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	again, created, err := gateway.EnsureToken(home)
	if err != nil || created || again != tok {
		t.Fatalf("second start: %q %v %v, want %q", again, created, err, tok)
	}
}

// TestLoadFileConfig reads YAML and JSON, resolves relative file names
// and refuses unknown settings.
func TestLoadFileConfig(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(yml, []byte("listen: 127.0.0.1:9999\nsystems:\n  - name: procapita\n    token_file: procapita.token\nwebhook:\n  url: http://127.0.0.1:1/hook\n  secret_file: hook.secret\n"), 0o600)
	fc, err := gateway.LoadFileConfig(yml)
	if err != nil || fc.Listen != "127.0.0.1:9999" || len(fc.Systems) != 1 || fc.Systems[0].TokenFile != filepath.Join(dir, "procapita.token") ||
		fc.Webhook == nil || fc.Webhook.SecretFile != filepath.Join(dir, "hook.secret") {
		t.Fatalf("YAML: %+v %v", fc, err)
	}
	js := filepath.Join(dir, "gateway.json")
	os.WriteFile(js, []byte(`{"systems":[{"name":"skolsystem","token_sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}`), 0o600)
	if fc, err := gateway.LoadFileConfig(js); err != nil || fc.Systems[0].Name != "skolsystem" {
		t.Fatalf("JSON: %+v %v", fc, err)
	}
	desk := filepath.Join(dir, "desk.yaml")
	os.WriteFile(desk, []byte("users:\n  - name: Malin Ellström\n    password_hash: $argon2id$...\ndesk:\n  user_header: X-Remote-User\n"), 0o600)
	if fc, err := gateway.LoadFileConfig(desk); err != nil || !strings.Contains(string(fc.Users), "Malin") || !strings.Contains(string(fc.Desk), "X-Remote-User") {
		t.Fatalf("the desk's settings: %+v %v", fc, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("systems:\n  - name: x\n    tokn: abc\n"), 0o600)
	if _, err := gateway.LoadFileConfig(bad); err == nil || !strings.Contains(err.Error(), "tokn") {
		t.Fatalf("a misspelt setting: %v", err)
	}
}
