// Package policytest is test support: it copies the repository's policies
// into a test's temporary folder, so that a test can break and mend them
// while an engine or a broker watches the folder.
//
// Only _test.go files import this package.
package policytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Copy copies the policies in src, without their tests and examples, into a
// new temporary folder and returns it.
func Copy(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if de.IsDir() {
			if de.Name() == "examples" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("policytest: copy %s: %v", src, err)
	}
	return dst
}
