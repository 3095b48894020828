package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
)

func TestProofsVerifyOffline(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	recs := appendN(t, l, 1, 5, time.Now())
	first, err := l.Checkpoint(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, appendN(t, l, 6, 8, time.Now())...)
	if _, err := l.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		p, err := Prove(ex, k.verifier, r.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		// Through JSON, as brokerctl audit prove writes it and check-proof reads it.
		b, _ := json.Marshal(p)
		var q Proof
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatal(err)
		}
		e, c, err := CheckProof(&q, k.verifier)
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if e.DecisionID != r.DecisionID || q.Index != int64(i) || c.Size != 13 {
			t.Fatalf("record %d: proof of %s at %d in %d", i+1, e.DecisionID, q.Index, c.Size)
		}
		q.Record = append([]byte(nil), q.Record...)
		q.Record[10] ^= 1
		if _, _, err := CheckProof(&q, k.verifier); err == nil {
			t.Fatalf("record %d: an altered record is proved", i+1)
		}
	}
	if _, err := Prove(ex, k.verifier, "no-such-decision"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown decision: %v", err)
	}
	// The first checkpoint is a prefix of the second.
	c1, _, err := OpenCheckpoint(first, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ex, k.verifier)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := ConsistencyProof(ex, c1.Size, rep.Latest.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(proof, rep.Latest.Size, rep.Latest.Root, c1.Size, c1.Root); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}
	if err := tlog.CheckTree(proof, rep.Latest.Size, rep.Latest.Root, c1.Size, tlog.RecordHash(nil)); err == nil {
		t.Fatal("consistency proof accepts a wrong old root")
	}
}

// TestRecordsSurviveRestart stops the log and the NATS server, starts both
// again on the same files, and finds every record indexed and the same tree.
func TestRecordsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	k := newKeyPair(t)
	ns := startServer(t, dir)
	l := openLog(t, connect(t, ns.ClientURL()), k)
	recs := appendN(t, l, 1, 20, time.Now())
	if err := l.Sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	n, root := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()

	ns = startServer(t, dir)
	js := connect(t, ns.ClientURL())
	l = openLog(t, js, k)
	if n2, root2 := l.Head(); n2 != n || root2 != root || n != 20 {
		t.Fatalf("after restart head = %d %s, before %d %s", n2, root2, n, root)
	}
	for _, r := range recs {
		got, err := l.BySeq(ctxT(t), r.InboundSeq, r.MessageID)
		if err != nil || got == nil || got.DecisionID != r.DecisionID {
			t.Fatalf("inbound %d not indexed after restart: %v", r.InboundSeq, err)
		}
		if got, err := l.ByMessage(ctxT(t), r.MessageID); err != nil || got == nil || got.DecisionID != r.DecisionID {
			t.Fatalf("message %s not indexed after restart: %v", r.MessageID, err)
		}
	}
	if got, err := l.BySeq(ctxT(t), 1000, fmt.Sprintf("%032x", 1000)); got != nil || err != nil {
		t.Fatalf("BySeq of an undecided message = %v, %v", got, err)
	}
	if got, err := l.ByMessage(ctxT(t), "unknown"); got != nil || err != nil {
		t.Fatalf("ByMessage of an unknown message = %v, %v", got, err)
	}
	// A redelivery after the restart returns the recorded decision.
	again := rec(7, time.Now())
	got, err := l.Append(ctxT(t), again, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.DecisionID != recs[6].DecisionID {
		t.Fatalf("redelivery recorded a new decision %s", got.DecisionID)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ex, k.verifier)
	if err != nil || rep.Records != 20 || rep.Latest.Size != 20 {
		t.Fatalf("verify after restart: %+v %v", rep, err)
	}
}

// TestTwoWritersOneLog appends from two Logs on two connections at once, with
// some inbound messages decided by both: one record each, one tree.
func TestTwoWritersOneLog(t *testing.T) {
	ns := startServer(t, t.TempDir())
	k := newKeyPair(t)
	a := openLog(t, connect(t, ns.ClientURL()), k)
	b := openLog(t, connect(t, ns.ClientURL()), k)
	const n = 150
	var wg sync.WaitGroup
	var mu sync.Mutex
	decided := map[uint64]map[string]bool{} // inbound seq → decision ids returned
	for w, l := range []*Log{a, b} {
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1 + g; i <= n; i += 4 {
					// Writer a takes 1..100, writer b 51..150: 51..100 are raced.
					if (w == 0 && i > 100) || (w == 1 && i <= 50) {
						continue
					}
					got, err := l.Append(ctxT(t), rec(i, time.Now()), personal(i))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if decided[uint64(i)] == nil {
						decided[uint64(i)] = map[string]bool{}
					}
					decided[uint64(i)][got.DecisionID] = true
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for seq, ids := range decided {
		if len(ids) != 1 {
			t.Fatalf("inbound %d has %d decisions", seq, len(ids))
		}
	}
	if _, err := a.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	na, ra := a.Head()
	nb, rb := b.Head()
	if na != n || nb != n || ra != rb {
		t.Fatalf("heads differ: %d %s and %d %s", na, ra, nb, rb)
	}
	for i := uint64(1); i <= n; i++ {
		x, errA := a.BySeq(ctxT(t), i, fmt.Sprintf("%032x", i))
		y, errB := b.BySeq(ctxT(t), i, fmt.Sprintf("%032x", i))
		if errA != nil || errB != nil || x == nil || y == nil || x.DecisionID != y.DecisionID {
			t.Fatalf("inbound %d: writers disagree", i)
		}
	}
	ex, err := ReadStream(ctxT(t), connect(t, ns.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ex, k.verifier)
	if err != nil || rep.Records != n || rep.Checkpoints != 2 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestStreamRefusesChanges: the stream itself will not delete or purge.
func TestStreamRefusesChanges(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	l := openLog(t, js, newKeyPair(t))
	appendN(t, l, 1, 3, time.Now())
	s, err := js.Stream(ctxT(t), bus.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMsg(ctxT(t), 2); err == nil {
		t.Fatal("a record was deleted")
	}
	if err := s.Purge(ctxT(t)); err == nil {
		t.Fatal("the log was purged")
	}
}

// TestBackPressure makes the stream refuse records: appends fail and Err says
// so; once the stream takes records again, appends succeed and Err clears.
func TestBackPressure(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	l := openLog(t, js, newKeyPair(t))
	appendN(t, l, 1, 2, time.Now())
	setMaxMsgs := func(n int64) {
		s, err := js.Stream(ctxT(t), bus.StreamAudit)
		if err != nil {
			t.Fatal(err)
		}
		cfg := s.CachedInfo().Config
		cfg.MaxMsgs = n
		if _, err := js.UpdateStream(ctxT(t), cfg); err != nil {
			t.Fatal(err)
		}
	}
	setMaxMsgs(2)
	// Append tries again until its context ends: a short one.
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := l.Append(short, rec(3, time.Now()), nil); err == nil {
		t.Fatal("the full stream took a record")
	}
	if l.Err() == nil {
		t.Fatal("Err does not report the refused record")
	}
	setMaxMsgs(-1)
	r := rec(3, time.Now())
	if got, err := l.Append(ctxT(t), r, nil); err != nil || got.DecisionID != r.DecisionID {
		t.Fatalf("after recovery: %v", err)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("Err after recovery: %v", err)
	}
}

func TestShredKeepsTheLogVerifiable(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	auditor := newAuditor(t)
	l := openLog(t, js, k, auditor.Recipient())
	oct := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
	nov := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	old := appendN(t, l, 1, 3, oct)
	recent := appendN(t, l, 4, 3, nov)
	if _, err := l.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	open := func(ex *Export, i int) (*Personal, error) {
		e, err := ParseEntry(ex.Records[i].Data)
		if err != nil {
			t.Fatal(err)
		}
		if e.Personal == nil {
			t.Fatalf("record %d has no sealed fields", i+1)
		}
		// A fresh opener each time: nothing cached from before the shred.
		return NewOpener(js, auditor).Open(ctxT(t), e.Personal, e.DecisionID)
	}
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		p, err := open(ex, i)
		if err != nil || p.Pseudonym != fmt.Sprintf("elev-%d", i+1) || p.Assessments["interest_assessment"] == nil {
			t.Fatalf("record %d before shred: %+v %v", i+1, p, err)
		}
		if d := string(ex.Records[i].Data); strings.Contains(d, "elev-") || strings.Contains(d, "risk för") {
			t.Fatalf("record %d holds personal data in clear", i+1)
		}
	}
	// Someone else's age identity cannot open them.
	if _, err := NewOpener(js, newAuditor(t)).Open(ctxT(t), mustEntry(t, ex, 0).Personal, mustEntry(t, ex, 0).DecisionID); err == nil {
		t.Fatal("a non-auditor opened the personal fields")
	}

	rep, err := Shred(ctxT(t), js, k.signer, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC))
	if err != nil || fmt.Sprint(rep.Periods()) != "[2026-10]" || !rep.Erased {
		t.Fatalf("shred: %+v %v", rep, err)
	}
	for i := range 3 {
		if _, err := open(ex, i); !errors.Is(err, ErrShredded) {
			t.Fatalf("shredded record %d: %v", i+1, err)
		}
	}
	for i := 3; i < 6; i++ {
		if _, err := open(ex, i); err != nil {
			t.Fatalf("record %d of a kept period: %v", i+1, err)
		}
	}
	// The log, its checkpoints and proofs are untouched.
	ex, err = ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ex, k.verifier); err != nil {
		t.Fatal(err)
	}
	for _, r := range append(old, recent...) {
		p, err := Prove(ex, k.verifier, r.DecisionID)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := CheckProof(p, k.verifier); err != nil {
			t.Fatal(err)
		}
	}
}

func mustEntry(t *testing.T, ex *Export, i int) *Entry {
	t.Helper()
	e, err := ParseEntry(ex.Records[i].Data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestIndexWithoutAndAgainstHeaders: a record stored without the index header
// is indexed from its body, and a header that names another message than its
// record is never taken for that message's decision.
func TestIndexWithoutAndAgainstHeaders(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	appended := appendN(t, l, 1, 2, time.Now())
	// Appended records carry the header as stored, so they are indexed
	// without decoding.
	stored, err := l.stream.GetMsg(ctxT(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if key, ok := parseIndexHeader(stored.Header.Get(indexHeader)); !ok || key.MessageID != appended[0].MessageID || key.InboundSeq != 1 {
		t.Fatalf("stored index header %q", stored.Header.Get(indexHeader))
	}
	publish := func(r *decision.Record, header string) {
		t.Helper()
		data, err := json.Marshal(newEntry(r))
		if err != nil {
			t.Fatal(err)
		}
		// Signed by the broker: only the header is wrong.
		if data, err = signRecord(k.signer, data); err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(bus.AuditRecord)
		m.Data = data
		if header != "" {
			m.Header.Set(indexHeader, header)
		}
		if _, err := js.PublishMsg(ctxT(t), m); err != nil {
			t.Fatal(err)
		}
	}
	plain, lying := rec(3, time.Now()), rec(4, time.Now())
	publish(plain, "")
	publish(lying, "5,"+fmt.Sprintf("%032x", 5)+",")
	l.Close()

	o := openLog(t, js, k)
	if n, _ := o.Head(); n != 4 {
		t.Fatalf("opened %d records, want 4", n)
	}
	if r, err := o.ByMessage(ctxT(t), plain.MessageID); err != nil || r == nil || r.DecisionID != plain.DecisionID {
		t.Fatalf("a record without the header: %v, %v", r, err)
	}
	if r, err := o.BySeq(ctxT(t), plain.InboundSeq, plain.MessageID); err != nil || r == nil || r.DecisionID != plain.DecisionID {
		t.Fatalf("a record without the header by inbound sequence: %v, %v", r, err)
	}
	if r, err := o.ByMessage(ctxT(t), fmt.Sprintf("%032x", 5)); r != nil || err != nil {
		t.Fatalf("a record was taken for the message its header names: %+v %v", r, err)
	}
	if r, err := o.BySeq(ctxT(t), 5, fmt.Sprintf("%032x", 5)); r != nil || err != nil {
		t.Fatalf("a record was taken for the inbound message its header names: %+v %v", r, err)
	}
}
