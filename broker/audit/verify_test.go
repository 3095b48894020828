package audit

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// exported appends n records to a fresh log, checkpoints it and returns the
// export file's bytes.
func exported(t *testing.T, n int) ([]byte, keyPair) {
	t.Helper()
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k, newAuditor(t).Recipient())
	appendN(t, l, 1, n, time.Now())
	if _, err := l.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := ex.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), k
}

func verifyFile(b []byte, k keyPair) (*Report, error) {
	ex, err := ReadExport(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return Verify(ex, k.verifier)
}

// wantPosition fails unless err is a VerifyError naming position pos.
func wantPosition(t *testing.T, what string, err error, pos int64) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("%s: err = %v, want a VerifyError at record %d", what, err, pos)
	}
	if ve.Position != pos {
		t.Fatalf("%s: %v, want record %d", what, err, pos)
	}
}

func TestExportVerifies(t *testing.T) {
	b, k := exported(t, 5)
	rep, err := verifyFile(b, k)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 5 || rep.Checkpoints != 1 || rep.Latest.Size != 5 || rep.Uncovered != 0 {
		t.Fatalf("report = %+v", rep)
	}
	// Another key does not verify the checkpoints.
	if _, err := verifyFile(b, newKeyPair(t)); err == nil {
		t.Fatal("checkpoints verify with a foreign key")
	}
}

// TestEveryByteFlipIsFound flips each byte of each record line of an export,
// in two ways, and expects verify to name that record.
func TestEveryByteFlipIsFound(t *testing.T) {
	const n = 4
	b, k := exported(t, n)
	lines := bytes.SplitAfter(b, []byte("\n"))
	for li := 1; li <= n; li++ {
		start := len(bytes.Join(lines[:li], nil))
		for off := range len(lines[li]) {
			for _, mask := range []byte{0x01, 0x20} {
				c := bytes.Clone(b)
				c[start+off] ^= mask
				_, err := verifyFile(c, k)
				wantPosition(t, "flip", err, int64(li))
			}
		}
	}
}

func TestRemovedReorderedTruncated(t *testing.T) {
	const n = 6
	b, k := exported(t, n)
	lines := bytes.SplitAfter(b, []byte("\n")) // header, n records, checkpoint, trailer, ""
	join := func(ls ...[]byte) []byte { return bytes.Join(ls, nil) }
	records := lines[1 : n+1]
	tail := join(lines[n+1:]...)

	for i := range n {
		// Removing record i+1.
		rest := append(append([][]byte{lines[0]}, records[:i]...), records[i+1:]...)
		_, err := verifyFile(append(join(rest...), tail...), k)
		wantPosition(t, "removed", err, int64(i+1))
	}
	for i := range n - 1 {
		// Swapping records i+1 and i+2.
		sw := append([][]byte{lines[0]}, records...)
		sw = append([][]byte(nil), sw...)
		sw[i+1], sw[i+2] = sw[i+2], sw[i+1]
		_, err := verifyFile(append(join(sw...), tail...), k)
		wantPosition(t, "reordered", err, int64(i+1))
	}
	// Cutting the file anywhere in or after the records.
	for cut := len(lines[0]) + 1; cut < len(b)-1; cut += 97 {
		_, err := verifyFile(b[:cut], k)
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	// Dropping the last two records with a trailer that agrees: the
	// checkpoint still signs six.
	trailer := []byte(`{"records":4,"checkpoints":1}` + "\n")
	cutLog := append(join(append([][]byte{lines[0]}, records[:4]...)...), append(lines[n+1], trailer...)...)
	_, err := verifyFile(cutLog, k)
	wantPosition(t, "truncated", err, 5)
}

// TestConsistentRewriteIsFound rewrites a record together with its leaf hash,
// as an operator would: the checkpoint no longer matches.
func TestConsistentRewriteIsFound(t *testing.T) {
	b, k := exported(t, 3)
	ex, err := ReadExport(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	old := ex.Records[1].Data
	ex.Records[1].Data = bytes.Replace(old, []byte("R-CONCERN"), []byte("R-GENERAL"), 1)
	if bytes.Equal(old, ex.Records[1].Data) {
		t.Fatal("record 2 has no rule to rewrite")
	}
	var buf bytes.Buffer
	if _, err := ex.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	_, err = verifyFile(buf.Bytes(), k)
	wantPosition(t, "rewritten", err, 1)
}
