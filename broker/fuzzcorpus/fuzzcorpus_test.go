package fuzzcorpus

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMarshal(t *testing.T) {
	got, err := Marshal([]byte("a\x00\n"), "ö\xff", byte('\r'), uint16(7), uint32(1<<31), int64(-1), true)
	if err != nil {
		t.Fatal(err)
	}
	want := "go test fuzz v1\n[]byte(\"a\\x00\\n\")\nstring(\"ö\\xff\")\nbyte('\\r')\nuint16(7)\nuint32(2147483648)\nint64(-1)\nbool(true)\n"
	if string(got) != want {
		t.Fatalf("Marshal =\n%s\nwant\n%s", got, want)
	}
	if _, err := Marshal(1.5); err == nil {
		t.Fatal("Marshal accepted a float64")
	}
}

func TestCheckWritesThenMatches(t *testing.T) {
	t.Chdir(t.TempDir())
	seeds := map[string][]any{"one": {[]byte("x")}}
	t.Setenv(UpdateEnv, "1")
	Check(t, "FuzzX", seeds)
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzX", "seed-one"))
	if err != nil || string(b) != "go test fuzz v1\n[]byte(\"x\")\n" {
		t.Fatalf("seed file = %q, %v", b, err)
	}
	t.Setenv(UpdateEnv, "")
	Check(t, "FuzzX", seeds) // fails the test if the file does not match
}

// recorder is a testing.TB that notes an error instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Errorf(string, ...any) { r.failed = true }

func TestCheckFindsStaleAndMissing(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(UpdateEnv, "1")
	Check(t, "FuzzX", map[string][]any{"one": {[]byte("x")}})
	t.Setenv(UpdateEnv, "")
	for name, seeds := range map[string]map[string][]any{
		"stale":   {"one": {[]byte("y")}},
		"missing": {"two": {[]byte("x")}},
	} {
		r := &recorder{TB: t}
		Check(r, "FuzzX", seeds)
		if !r.failed {
			t.Errorf("%s seed not reported", name)
		}
	}
}
