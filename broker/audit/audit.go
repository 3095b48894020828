// Package audit is the broker's tamper-evident log of every decision.
//
// The log is a file of JSON lines. Each entry carries the hash of the entry
// before it, so changing, removing or reordering any entry breaks the chain
// from that point on, and Verify names the first entry where it breaks.
// Appends are durable when Append returns: entries are written and fsynced in
// groups, so many concurrent appends share one fsync.
package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

// Genesis is the prev hash of the first entry.
var Genesis = string(bytes.Repeat([]byte("0"), 64))

// Entry is one line of the log.
type Entry struct {
	Seq    uint64          `json:"seq"`
	Prev   string          `json:"prev"`
	Hash   string          `json:"hash"`
	Record json.RawMessage `json:"record"`
}

// ChainHash is the hash of an entry: it commits to its position, its
// predecessor and the exact bytes of its record.
func ChainHash(seq uint64, prev string, record []byte) string {
	h := sha256.New()
	h.Write([]byte("sekretess-audit-v1\n"))
	h.Write([]byte(strconv.FormatUint(seq, 10)))
	h.Write([]byte("\n"))
	h.Write([]byte(prev))
	h.Write([]byte("\n"))
	h.Write(record)
	return hex.EncodeToString(h.Sum(nil))
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: log is closed")

// VerifyError locates the first broken entry.
type VerifyError struct {
	Line   int    // 1-based line in the file
	Seq    uint64 // the sequence the entry should have had
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: entry %d (line %d): %s", e.Seq, e.Line, e.Reason)
}

// Verify reads a whole log and checks every entry's sequence, link and hash.
// It returns the number of valid entries and the last hash.
func Verify(r io.Reader) (n uint64, last string, err error) {
	last = Genesis
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return n, last, &VerifyError{Line: line, Seq: n + 1, Reason: "not a log entry: " + err.Error()}
		}
		if err := check(&e, n+1, last); err != nil {
			return n, last, &VerifyError{Line: line, Seq: n + 1, Reason: err.Error()}
		}
		n, last = e.Seq, e.Hash
	}
	if err := sc.Err(); err != nil {
		return n, last, fmt.Errorf("audit: read: %w", err)
	}
	return n, last, nil
}

func check(e *Entry, seq uint64, prev string) error {
	switch {
	case e.Seq != seq:
		return fmt.Errorf("sequence is %d, want %d (an entry was removed, inserted or reordered)", e.Seq, seq)
	case e.Prev != prev:
		return errors.New("prev does not match the previous entry's hash (the chain is broken here)")
	case e.Hash != ChainHash(e.Seq, e.Prev, e.Record):
		return errors.New("hash does not match the entry's content (the entry was altered)")
	}
	var rec decision.Record
	if err := json.Unmarshal(e.Record, &rec); err != nil {
		return fmt.Errorf("record does not decode: %v", err)
	}
	return nil
}

type appendReq struct {
	rec  []byte
	r    *decision.Record
	done chan appendRes
}

type appendRes struct {
	e   Entry
	err error
}

// Log is an open audit log. It is safe for concurrent use.
type Log struct {
	f      *os.File
	logger *slog.Logger
	reqs   chan appendReq
	quit   chan struct{}
	wg     sync.WaitGroup

	// sendMu lets Close wait for appends that are queuing, so that nothing is
	// left in the queue after the writer has drained it.
	sendMu   sync.RWMutex
	shutdown bool

	mu        sync.RWMutex // guards the fields below
	seq       uint64
	last      string
	bySeq     map[uint64]*decision.Record
	byMessage map[string]*decision.Record
	failed    error // a write or fsync failed: the file's tail is unknown, refuse further appends
}

// Open opens or creates the log at path, verifying the whole chain. A final
// line cut short by a crash is truncated (it was never acknowledged); any other
// damage is an error, because the broker must not extend a broken log.
func Open(path string, logger *slog.Logger) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{
		f: f, logger: logger, last: Genesis,
		reqs: make(chan appendReq, 1024), quit: make(chan struct{}),
		bySeq: map[uint64]*decision.Record{}, byMessage: map[string]*decision.Record{},
	}
	if err := l.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	l.wg.Add(1)
	go l.writer()
	return l, nil
}

func (l *Log) load() error {
	data, err := io.ReadAll(l.f)
	if err != nil {
		return err
	}
	good := 0 // bytes of complete, valid entries
	line := 0
	for len(data[good:]) > 0 {
		rest := data[good:]
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			l.logger.Warn("audit: truncating an incomplete final entry left by a crash", "bytes", len(rest))
			break
		}
		line++
		var e Entry
		if err := json.Unmarshal(rest[:nl], &e); err != nil {
			return &VerifyError{Line: line, Seq: l.seq + 1, Reason: "not a log entry: " + err.Error()}
		}
		if err := check(&e, l.seq+1, l.last); err != nil {
			return &VerifyError{Line: line, Seq: l.seq + 1, Reason: err.Error()}
		}
		var rec decision.Record
		_ = json.Unmarshal(e.Record, &rec) // checked above
		l.index(&rec)
		l.seq, l.last = e.Seq, e.Hash
		good += nl + 1
	}
	if good < len(data) {
		if err := l.f.Truncate(int64(good)); err != nil {
			return err
		}
		if err := l.f.Sync(); err != nil {
			return err
		}
	}
	_, err = l.f.Seek(int64(good), io.SeekStart)
	return err
}

func (l *Log) index(r *decision.Record) {
	l.bySeq[r.InboundSeq] = r
	// A message id maps to its policy decision, not to later rejections of
	// replays that reused the id.
	if r.MessageID != "" && r.ErrorCode != "replay" {
		if _, ok := l.byMessage[r.MessageID]; !ok {
			l.byMessage[r.MessageID] = r
		}
	}
}

// Append writes rec to the log and returns once it is on disk.
func (l *Log) Append(ctx context.Context, rec *decision.Record) (Entry, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: %w", err)
	}
	req := appendReq{rec: b, r: rec, done: make(chan appendRes, 1)}
	l.sendMu.RLock()
	if l.shutdown {
		l.sendMu.RUnlock()
		return Entry{}, ErrClosed
	}
	select {
	case l.reqs <- req:
		l.sendMu.RUnlock()
	case <-ctx.Done():
		l.sendMu.RUnlock()
		return Entry{}, ctx.Err()
	}
	// Once queued the append completes regardless of ctx: the caller must not
	// believe a record absent that may be on disk.
	res := <-req.done
	return res.e, res.err
}

// writer batches queued appends into one write and one fsync.
func (l *Log) writer() {
	defer l.wg.Done()
	var buf bytes.Buffer
	for {
		var batch []appendReq
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case <-l.quit:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-l.reqs:
					batch = append(batch, r)
					continue
				default:
				}
				break
			}
			if len(batch) > 0 {
				l.commit(&buf, batch)
			}
			return
		}
	more:
		for len(batch) < 512 {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		l.commit(&buf, batch)
	}
}

func (l *Log) commit(buf *bytes.Buffer, batch []appendReq) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed != nil {
		for _, r := range batch {
			r.done <- appendRes{err: l.failed}
		}
		return
	}
	buf.Reset()
	seq, last := l.seq, l.last
	entries := make([]Entry, len(batch))
	for i, r := range batch {
		seq++
		e := Entry{Seq: seq, Prev: last, Hash: ChainHash(seq, last, r.rec), Record: r.rec}
		b, _ := json.Marshal(e) // fields are plain strings and valid JSON
		buf.Write(b)
		buf.WriteByte('\n')
		entries[i], last = e, e.Hash
	}
	_, err := l.f.Write(buf.Bytes())
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		l.failed = fmt.Errorf("audit: write failed, no further records are accepted until restart: %w", err)
		l.logger.Error("audit: write failed", "err", err)
		for _, r := range batch {
			r.done <- appendRes{err: l.failed}
		}
		return
	}
	l.seq, l.last = seq, last
	for i, r := range batch {
		l.index(r.r)
		r.done <- appendRes{e: entries[i]}
	}
}

// BySeq returns the record of the inbound message with the given stream
// sequence, if it was already decided.
func (l *Log) BySeq(seq uint64) (*decision.Record, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.bySeq[seq]
	return r, ok
}

// ByMessage returns the policy decision recorded for a message id.
func (l *Log) ByMessage(id string) (*decision.Record, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	r, ok := l.byMessage[id]
	return r, ok
}

// Head returns the number of entries and the hash of the last one.
func (l *Log) Head() (uint64, string) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.seq, l.last
}

// Err returns the write error that stopped the log, if any.
func (l *Log) Err() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.failed
}

// Close finishes queued appends and closes the file.
func (l *Log) Close() error {
	l.sendMu.Lock()
	if l.shutdown {
		l.sendMu.Unlock()
		return nil
	}
	l.shutdown = true
	close(l.quit)
	l.sendMu.Unlock()
	l.wg.Wait()
	return l.f.Close()
}
