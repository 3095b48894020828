package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ExportFormat is the first line's format name of an export file.
const ExportFormat = "sekretess-audit-export/1"

// Record is one record of the log with its position: Seq is its stream
// sequence, so leaf index Seq-1.
type Record struct {
	Seq  int64
	Data []byte
}

// Export is the log as an auditor takes it away: every record in stream
// order and every signed checkpoint (cosigned ones included).
type Export struct {
	Records     []Record
	Checkpoints [][]byte
	// SignedFrom is the position of the first record the broker signed, as
	// the stream says (ReadStream); zero when not known (an export file),
	// and then it is taken to be the first signed record.
	SignedFrom int64
}

// Export file lines (JSON lines): a header, the records, the checkpoints, a
// trailer with the counts. Leaf is redundant with Record; it names the exact
// record a byte flip hit. Without the trailer the file was cut short.
type (
	exportHeader struct {
		Format string `json:"format"`
	}
	exportRecord struct {
		Seq    int64           `json:"seq"`
		Leaf   string          `json:"leaf"`
		Record json.RawMessage `json:"record"`
	}
	exportCheckpoint struct {
		Checkpoint string `json:"checkpoint"`
	}
	exportTrailer struct {
		Records     int64 `json:"records"`
		Checkpoints int   `json:"checkpoints"`
	}
)

// encodeLine is a record's line as WriteTo writes it, without the newline.
// HTML escaping is off so that a record's bytes are written as they are.
func encodeLine(rec exportRecord) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// WriteTo writes the export file.
func (ex *Export) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: bufio.NewWriter(w)}
	enc := json.NewEncoder(cw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(exportHeader{Format: ExportFormat}); err != nil {
		return cw.n, fmt.Errorf("audit: export: %w", err)
	}
	for _, r := range ex.Records {
		if err := enc.Encode(exportRecord{Seq: r.Seq, Leaf: tlog.RecordHash(r.Data).String(), Record: r.Data}); err != nil {
			return cw.n, fmt.Errorf("audit: export record %d: %w", r.Seq, err)
		}
	}
	for _, c := range ex.Checkpoints {
		if err := enc.Encode(exportCheckpoint{Checkpoint: string(c)}); err != nil {
			return cw.n, fmt.Errorf("audit: export: %w", err)
		}
	}
	if err := enc.Encode(exportTrailer{Records: int64(len(ex.Records)), Checkpoints: len(ex.Checkpoints)}); err != nil {
		return cw.n, fmt.Errorf("audit: export: %w", err)
	}
	if err := cw.w.(*bufio.Writer).Flush(); err != nil {
		return cw.n, fmt.Errorf("audit: export: %w", err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// VerifyError names the first bad record: Position is its 1-based place in
// the log (its stream sequence), or the place where a record is missing.
type VerifyError struct {
	Position int64
	Reason   string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: record %d: %s", e.Position, e.Reason)
}

// ReadExport reads an export file. Damage that stops a record from being read
// at all is reported as a *VerifyError naming its position; everything else
// is left to Verify.
func ReadExport(r io.Reader) (*Export, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	ex := &Export{}
	bad := func(reason string) error {
		return &VerifyError{Position: int64(len(ex.Records)) + 1, Reason: reason}
	}
	if !sc.Scan() {
		return nil, bad("empty file, not an export")
	}
	var h exportHeader
	if err := json.Unmarshal(sc.Bytes(), &h); err != nil || h.Format != ExportFormat {
		return nil, bad("the first line is not an export header of format " + ExportFormat)
	}
	var trailer *exportTrailer
	for sc.Scan() {
		line := sc.Bytes()
		if trailer != nil {
			return nil, bad("lines after the trailer")
		}
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(line, &probe); err != nil {
			return nil, bad("line does not parse: " + err.Error())
		}
		switch {
		case probe["checkpoint"] != nil:
			var c exportCheckpoint
			if err := json.Unmarshal(line, &c); err != nil {
				return nil, bad("checkpoint line does not parse: " + err.Error())
			}
			ex.Checkpoints = append(ex.Checkpoints, []byte(c.Checkpoint))
		case probe["records"] != nil:
			trailer = &exportTrailer{}
			if err := json.Unmarshal(line, trailer); err != nil {
				return nil, bad("trailer does not parse: " + err.Error())
			}
		default:
			if len(ex.Checkpoints) > 0 {
				return nil, bad("a record after the checkpoints")
			}
			var rec exportRecord
			if err := json.Unmarshal(line, &rec); err != nil {
				return nil, bad("record line does not parse: " + err.Error())
			}
			want := int64(len(ex.Records)) + 1
			switch {
			case !bytes.Equal(encodeLine(rec), line):
				return nil, bad("the line is not as exported (a key or a number was altered)")
			case rec.Seq != want:
				return nil, bad(fmt.Sprintf("has sequence %d: a record was removed, inserted or moved here", rec.Seq))
			case rec.Leaf != tlog.RecordHash(rec.Record).String():
				return nil, bad("its bytes do not match its leaf hash: the record was altered")
			}
			ex.Records = append(ex.Records, Record{Seq: rec.Seq, Data: []byte(rec.Record)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("audit: read export: %w", err)
	}
	switch {
	case trailer == nil:
		return nil, bad("the file ends without its trailer: it was cut short")
	case trailer.Records != int64(len(ex.Records)) || trailer.Checkpoints != len(ex.Checkpoints):
		return nil, bad(fmt.Sprintf("the trailer counts %d records and %d checkpoints, the file holds %d and %d",
			trailer.Records, trailer.Checkpoints, len(ex.Records), len(ex.Checkpoints)))
	}
	return ex, nil
}

// Report is the result of a successful Verify.
type Report struct {
	Records     int64
	Root        tlog.Hash
	Checkpoints int
	// Latest is the largest checkpoint, and LatestNote its signed form.
	Latest     Checkpoint
	LatestNote []byte
	// Uncovered records come after the latest checkpoint: they are in the
	// tree but no signature commits to them yet.
	Uncovered int64
}

// Verify recomputes the tree over ex's records and checks every record
// decodes, every checkpoint is signed by a key of logKeys (the log's key
// history) and matches the tree at its
// size (so all checkpoints are consistent with each other), and no checkpoint
// is larger than the log (which would mean records were cut off).
func Verify(ex *Export, logKeys note.Verifiers) (*Report, error) {
	t, err := buildTree(ex)
	if err != nil {
		return nil, err
	}
	rep := &Report{Records: t.n}
	rep.Root, _ = t.root(t.n)
	// Checkpoints in size order, to name the first interval that is wrong.
	type cp struct {
		c   Checkpoint
		msg []byte
	}
	var cps []cp
	for i, msg := range ex.Checkpoints {
		c, _, err := OpenCheckpoint(msg, logKeys)
		if err != nil {
			return nil, fmt.Errorf("audit: checkpoint %d: %w", i+1, err)
		}
		cps = append(cps, cp{c, msg})
	}
	good := int64(0) // every record up to here is covered by a checkpoint that matches
	for _, x := range sortedBySize(cps, func(x cp) int64 { return x.c.Size }) {
		c := x.c
		if c.Size > t.n {
			return nil, &VerifyError{Position: t.n + 1, Reason: fmt.Sprintf(
				"missing: the log ends after %d records but a checkpoint of %s signs %d (records were cut off)",
				t.n, c.Time.Format("2006-01-02T15:04:05Z"), c.Size)}
		}
		root, err := t.root(c.Size)
		if err != nil {
			return nil, err
		}
		if root != c.Root {
			return nil, &VerifyError{Position: good + 1, Reason: fmt.Sprintf(
				"the tree over records %d..%d does not match the signed checkpoint of size %d: one of them was altered, removed or reordered",
				good+1, c.Size, c.Size)}
		}
		good = c.Size
		rep.Checkpoints++
		// Of equal checkpoints the one with most cosignatures (the longest
		// note) is the one a proof should carry.
		if c.Size > rep.Latest.Size || (c.Size == rep.Latest.Size && len(x.msg) >= len(rep.LatestNote)) {
			rep.Latest, rep.LatestNote = c, x.msg
		}
	}
	rep.Uncovered = t.n - good
	return rep, nil
}

func sortedBySize[T any](xs []T, size func(T) int64) []T {
	out := append([]T(nil), xs...)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(size(a), size(b)) })
	return out
}

// buildTree checks positions and record syntax and builds the tree.
func buildTree(ex *Export) (*tree, error) {
	t := &tree{}
	for i, r := range ex.Records {
		pos := int64(i) + 1
		if r.Seq != pos {
			return nil, &VerifyError{Position: pos, Reason: fmt.Sprintf("has sequence %d: a record was removed, inserted or moved here", r.Seq)}
		}
		if _, err := ParseEntry(r.Data); err != nil {
			return nil, &VerifyError{Position: pos, Reason: err.Error()}
		}
		if err := t.add(r.Data); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Proof shows that one record is in the log: it verifies offline with the
// log's public key alone.
type Proof struct {
	// Checkpoint is the signed checkpoint the proof is against.
	Checkpoint string `json:"checkpoint"`
	// Index is the record's leaf index (its position minus one).
	Index int64 `json:"index"`
	// Record is the record's exact bytes.
	Record []byte `json:"record"`
	// Path is the RFC 6962 inclusion proof.
	Path tlog.RecordProof `json:"path"`
}

// ErrNotFound is returned when no record has the decision id asked for.
var ErrNotFound = errors.New("audit: no record with this decision id")

// Prove returns the inclusion proof of the record with decisionID against the
// latest checkpoint in ex that covers it.
func Prove(ex *Export, logKeys note.Verifiers, decisionID string) (*Proof, error) {
	rep, err := Verify(ex, logKeys)
	if err != nil {
		return nil, err
	}
	t, _ := buildTree(ex) // checked by Verify
	for i, r := range ex.Records {
		e, _ := ParseEntry(r.Data)
		if e.DecisionID != decisionID {
			continue
		}
		if int64(i) >= rep.Latest.Size {
			return nil, fmt.Errorf("audit: record %d is not yet covered by a signed checkpoint (latest signs %d records)", i+1, rep.Latest.Size)
		}
		path, err := tlog.ProveRecord(rep.Latest.Size, int64(i), t)
		if err != nil {
			return nil, fmt.Errorf("audit: prove: %w", err)
		}
		return &Proof{Checkpoint: string(rep.LatestNote), Index: int64(i), Record: r.Data, Path: path}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, decisionID)
}

// CheckProof verifies p with the log's public keys and returns the record and
// the checkpoint it is included in.
func CheckProof(p *Proof, logKeys note.Verifiers) (*Entry, Checkpoint, error) {
	c, _, err := OpenCheckpoint([]byte(p.Checkpoint), logKeys)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	if err := tlog.CheckRecord(p.Path, c.Size, c.Root, p.Index, tlog.RecordHash(p.Record)); err != nil {
		return nil, c, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	e, err := ParseEntry(p.Record)
	if err != nil {
		return nil, c, err
	}
	return e, c, nil
}

// ConsistencyProof returns the proof that the first oldSize records of ex are
// a prefix of its first newSize records.
func ConsistencyProof(ex *Export, oldSize, newSize int64) (tlog.TreeProof, error) {
	t, err := buildTree(ex)
	if err != nil {
		return nil, err
	}
	if newSize > t.n || oldSize > newSize {
		return nil, fmt.Errorf("audit: consistency proof %d→%d: the log has %d records", oldSize, newSize, t.n)
	}
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(newSize, oldSize, t)
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	return p, nil
}
