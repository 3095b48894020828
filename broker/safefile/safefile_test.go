package safefile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

// entries returns the names in dir, so a test can see that no temporary file
// was left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func checkFile(t *testing.T, path string, want []byte, perm fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != perm {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), perm)
	}
}

func TestWriteContentAndMode(t *testing.T) {
	dir := t.TempDir()
	for _, perm := range []fs.FileMode{0o600, 0o644, 0o400} {
		path := filepath.Join(dir, fmt.Sprintf("f%o", perm))
		data := []byte("mode " + perm.String() + "\n")
		if err := safefile.Write(path, data, perm); err != nil {
			t.Fatal(err)
		}
		checkFile(t, path, data, perm)
	}
	if got := entries(t, dir); len(got) != 3 {
		t.Errorf("folder holds %v, want just the three files", got)
	}
}

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "directory.yaml")
	if err := safefile.Write(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Write(path, []byte("new and longer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, []byte("new and longer\n"), 0o644)
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("folder holds %v, want only directory.yaml", got)
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	if err := safefile.Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := safefile.Create(path, []byte("second"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v, want an error wrapping fs.ErrExist", err)
	}
	checkFile(t, path, []byte("first"), 0o600)
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("folder holds %v, want only signing.key", got)
	}
}

// Exactly one of many concurrent Creates of one path wins, and the file holds
// the winner's data in full.
func TestCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "age.key")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = safefile.Create(path, bytes.Repeat([]byte{byte('a' + i)}, 4096), 0o600)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both created %s", winner, i, path)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("writer %d: %v, want success or fs.ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer created the file")
	}
	checkFile(t, path, bytes.Repeat([]byte{byte('a' + winner)}, 4096), 0o600)
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("folder holds %v, want only age.key", got)
	}
}

func TestCreatesMissingFolders(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "agencies", "polis", "nats.nk")
	if err := safefile.Create(path, []byte("SU…\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkFile(t, path, []byte("SU…\n"), 0o600)
	for _, d := range []string{filepath.Join(root, "agencies"), filepath.Join(root, "agencies", "polis")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s has mode %v, want 0700", d, fi.Mode().Perm())
		}
	}
}

// A failed move into place (here: the target is a folder) leaves no
// temporary file behind and the target untouched.
func TestWriteFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "inbox")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Write(target, []byte("x"), 0o600); err == nil {
		t.Fatal("Write over a folder succeeded")
	}
	if got := entries(t, dir); len(got) != 1 || got[0] != "inbox" {
		t.Errorf("folder holds %v after a failed write, want only inbox", got)
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.IsDir() {
		t.Errorf("target changed after a failed write: %v, %v", fi, err)
	}
}

// A folder the process may not write to fails cleanly. Root may write
// anywhere, so the check needs an ordinary user.
func TestWriteUnwritableFolder(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs an ordinary user on a Unix system: root may write to any folder")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	for name, f := range map[string]func(string, []byte, fs.FileMode) error{"Write": safefile.Write, "Create": safefile.Create} {
		if err := f(filepath.Join(dir, "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("%s in a read-only folder: %v, want fs.ErrPermission", name, err)
		}
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("read-only folder holds %v", got)
	}
}

func TestParentIsAFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "broker")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := safefile.Create(filepath.Join(file, "signing.key"), []byte("x"), 0o600); err == nil {
		t.Fatal("Create under a file succeeded")
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("folder holds %v, want only the file", got)
	}
}
