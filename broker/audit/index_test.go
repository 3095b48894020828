package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
)

// TestIdHeldOnce: the first decision of a message id holds it; another
// envelope's decision under the id is refused with the holder, a replay
// refusal is filed under its inbound message, and Lookup finds both, also
// from a log opened afresh.
func TestIdHeldOnce(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	now := time.Now()
	first := rec(1, now)
	if _, err := l.Append(ctxT(t), first, nil); err != nil {
		t.Fatal(err)
	}
	replay := rec(2, now)
	replay.MessageID = first.MessageID
	replay.EnvelopeSHA256 = strings.Repeat("e", 64)
	_, err := l.Append(ctxT(t), replay, nil)
	var ce *ClaimedError
	if !errors.As(err, &ce) || ce.Record.DecisionID != first.DecisionID {
		t.Fatalf("second decision of an id: %v, want ClaimedError with the first", err)
	}
	if l.Err() != nil {
		t.Fatalf("a taken id made the log look unavailable: %v", l.Err())
	}
	replay.Outcome, replay.ErrorCode, replay.Rule, replay.Basis = decision.Rejected, errcode.Replay, "", ""
	if got, err := l.AppendUnclaimed(ctxT(t), replay, nil); err != nil || got.DecisionID != replay.DecisionID {
		t.Fatalf("replay refusal: %+v %v", got, err)
	}
	// A redelivery of the first message gets its decision back, past the
	// dedupe key too (another decision id, the same envelope).
	again := *first
	again.DecisionID = decision.NewID()
	if got, err := l.Append(ctxT(t), &again, nil); err != nil || got.DecisionID != first.DecisionID {
		t.Fatalf("redelivery: %+v %v", got, err)
	}
	l.Close()
	for _, o := range []*Log{l, openLog(t, js, k)} {
		mine, claim, err := o.Lookup(ctxT(t), 2, first.MessageID)
		if err != nil || mine == nil || mine.DecisionID != replay.DecisionID || claim == nil || claim.DecisionID != first.DecisionID {
			t.Fatalf("lookup of the replay: %+v %+v %v", mine, claim, err)
		}
		mine, claim, err = o.Lookup(ctxT(t), 1, first.MessageID)
		if err != nil || mine == nil || mine.DecisionID != first.DecisionID || claim == nil || claim.DecisionID != first.DecisionID {
			t.Fatalf("lookup of the first: %+v %+v %v", mine, claim, err)
		}
		if r, err := o.ByMessage(ctxT(t), first.MessageID); err != nil || r == nil || r.DecisionID != first.DecisionID {
			t.Fatalf("by message: %+v %v", r, err)
		}
		if mine, claim, err := o.Lookup(ctxT(t), 3, rec(3, now).MessageID); mine != nil || claim != nil || err != nil {
			t.Fatalf("lookup of a new message: %+v %+v %v", mine, claim, err)
		}
	}
}

// TestOpenFromSnapshot: a log opens from its last snapshot to the same head
// as from the first record, and a snapshot that does not verify is passed
// over for the whole log.
func TestOpenFromSnapshot(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	appendN(t, l, 1, 10, time.Now())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	n, root := l.Head()
	// Records after the snapshot are read at open.
	l2 := openLog(t, js, k)
	appendN(t, l2, 11, 5, time.Now())
	if _, err := js.Publish(ctxT(t), bus.AuditState, []byte(`{"checkpoint":"bm90IGEgbm90ZQ==","edge":[]}`)); err != nil {
		t.Fatal(err)
	}
	o := openLog(t, js, k)
	if n2, _ := o.Head(); n2 != 15 {
		t.Fatalf("opened past a bad snapshot with %d records, want 15", n2)
	}
	l2.Close()
	o = openLog(t, js, k)
	if n3, _ := o.Head(); n3 != 15 {
		t.Fatalf("opened from the snapshot with %d records, want 15", n3)
	}
	m, err := o.state.GetLastMsgForSubject(ctxT(t), bus.AuditState)
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if err := json.Unmarshal(m.Data, &s); err != nil {
		t.Fatal(err)
	}
	if f, err := s.open(k.verifier); err != nil || f.n != 15 {
		t.Fatalf("last snapshot: size %d, %v", f.n, err)
	}
	if n != 10 {
		t.Fatalf("closed at %d records", n)
	}
	// The head from the snapshot is the tree of the whole stream.
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	var full tree
	for _, r := range ex.Records {
		if err := full.add(r.Data); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := full.root(full.n)
	if got10, _ := full.root(10); got10 != root {
		t.Fatalf("root at 10 records %s, the log said %s", got10, root)
	}
	if _, got := o.Head(); got != want {
		t.Fatalf("head from the snapshot %s, whole stream %s", got, want)
	}
}

// TestSnapshotOfARecreatedStream: a snapshot taken of an audit stream that
// was since deleted and made anew is not taken for the new stream's state.
func TestSnapshotOfARecreatedStream(t *testing.T) {
	ns := startServer(t, t.TempDir())
	js := connect(t, ns.ClientURL())
	k := newKeyPair(t)
	l := openLog(t, js, k)
	appendN(t, l, 1, 5, time.Now())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctxT(t), bus.StreamAudit); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, js, k)
	appendN(t, l2, 100, 7, time.Now())
	// Keep the old snapshot the latest one.
	l2.cc.Stop()
	o := openLog(t, js, k)
	ex, err := ReadStream(ctxT(t), js)
	if err != nil {
		t.Fatal(err)
	}
	var full tree
	for _, r := range ex.Records {
		if err := full.add(r.Data); err != nil {
			t.Fatal(err)
		}
	}
	want, _ := full.root(full.n)
	if n, got := o.Head(); n != 7 || got != want {
		t.Fatalf("opened %d records with root %s; the stream holds %d with root %s", n, got, full.n, want)
	}
}
