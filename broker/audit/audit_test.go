package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

func rec(i int) *decision.Record {
	return &decision.Record{
		DecisionID: decision.NewID(), DecidedAt: time.Unix(int64(i), 0).UTC(), InboundSeq: uint64(i),
		MessageID: fmt.Sprintf("%032x", i), Sender: "polisen", Recipient: "soc", Kind: "concern_report",
		Outcome: decision.Delivered, Rule: "R-CONCERN", Basis: "SoL", EnvelopeSHA256: strings.Repeat("a", 64),
	}
}

func openLog(t *testing.T, path string) *Log {
	t.Helper()
	l, err := Open(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func writeN(t *testing.T, path string, n int) {
	t.Helper()
	l := openLog(t, path)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Append(context.Background(), rec(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendConcurrentReopenVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeN(t, path, 200)
	l := openLog(t, path)
	defer l.Close()
	if n, _ := l.Head(); n != 200 {
		t.Fatalf("head after reopen = %d, want 200", n)
	}
	for i := 1; i <= 200; i++ {
		r, ok := l.BySeq(uint64(i))
		if !ok || r.MessageID != fmt.Sprintf("%032x", i) {
			t.Fatalf("BySeq(%d) = %v, %v", i, r, ok)
		}
		if _, ok := l.ByMessage(fmt.Sprintf("%032x", i)); !ok {
			t.Fatalf("ByMessage(%d) missing", i)
		}
	}
	e, err := l.Append(context.Background(), rec(201))
	if err != nil || e.Seq != 201 {
		t.Fatalf("append after reopen = %+v, %v", e, err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if n, _, err := Verify(f); err != nil || n != 201 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

func lines(t *testing.T, path string) [][]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func verifyBytes(b []byte) (uint64, error) {
	n, _, err := Verify(bytes.NewReader(b))
	return n, err
}

// TestTamperingIsLocated flips, removes, reorders and truncates entries and
// checks that Verify names the first entry that no longer fits.
func TestTamperingIsLocated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeN(t, path, 5)
	orig := lines(t, path)
	join := func(ls [][]byte) []byte {
		var out []byte
		for _, l := range ls {
			out = append(out, l...)
			if !bytes.HasSuffix(l, []byte("\n")) {
				out = append(out, '\n')
			}
		}
		return out
	}
	// Flip one byte of every position in entry 3 that is inside its record.
	line := orig[2]
	start := bytes.Index(line, []byte(`"record":`)) + len(`"record":`)
	for i := start; i < len(line)-2; i++ {
		ls := append([][]byte(nil), orig...)
		mod := append([]byte(nil), line...)
		mod[i] ^= 0x01
		ls[2] = mod
		var ve *VerifyError
		n, err := verifyBytes(join(ls))
		if !errors.As(err, &ve) || ve.Seq != 3 || n != 2 {
			t.Fatalf("flip at byte %d: Verify = %d, %v; want entry 3 named", i, n, err)
		}
	}
	cases := map[string]struct {
		ls      [][]byte
		wantSeq uint64
	}{
		"removed":       {append(append([][]byte{}, orig[:2]...), orig[3:]...), 3},
		"reordered":     {[][]byte{orig[0], orig[2], orig[1], orig[3], orig[4]}, 2},
		"first removed": {orig[1:], 1},
	}
	for name, c := range cases {
		var ve *VerifyError
		_, err := verifyBytes(join(c.ls))
		if !errors.As(err, &ve) || ve.Seq != c.wantSeq {
			t.Errorf("%s: Verify error %v, want entry %d", name, err, c.wantSeq)
		}
	}
	// A log cut at an entry boundary still verifies as a prefix: the count
	// tells the auditor how much is left, and checkpoints (issue "audit") pin it.
	if n, err := verifyBytes(join(orig[:3])); err != nil || n != 3 {
		t.Errorf("prefix: %d, %v", n, err)
	}
	// Open refuses to extend a tampered log.
	ls := append([][]byte(nil), orig...)
	ls[1] = bytes.Replace(ls[1], []byte("R-CONCERN"), []byte("R-CONSENT"), 1)
	os.WriteFile(path, join(ls), 0o600)
	if _, err := Open(path, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Open accepted a tampered log")
	}
}

func TestTornFinalLineIsTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	writeN(t, path, 3)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append(b, []byte(`{"seq":4,"prev":"`)...), 0o600)
	l := openLog(t, path)
	if n, _ := l.Head(); n != 3 {
		t.Fatalf("head = %d, want 3", n)
	}
	if e, err := l.Append(context.Background(), rec(4)); err != nil || e.Seq != 4 {
		t.Fatalf("append = %+v, %v", e, err)
	}
	l.Close()
	f, _ := os.Open(path)
	defer f.Close()
	if n, _, err := Verify(f); err != nil || n != 4 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}

func TestAppendAfterClose(t *testing.T) {
	l := openLog(t, filepath.Join(t.TempDir(), "audit.log"))
	l.Close()
	if _, err := l.Append(context.Background(), rec(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := rec(1)
	b.SetParallelism(16) // concurrent appends share fsyncs, as the pipeline's workers do
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
