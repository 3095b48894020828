package audit

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestCheckWitnessState cuts a log back below what a witness cosigned, with
// its checkpoints: Verify cannot tell, the witness's state can.
func TestCheckWitnessState(t *testing.T) {
	k := newKeyPair(t)
	m := &memLog{k: k}
	entry := func(i int) string {
		b, err := json.Marshal(newEntry(rec(i, time.Now())))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for i := 1; i <= 3; i++ {
		m.add(t, entry(i))
	}
	early := m.checkpoint(t)
	m.add(t, entry(4))
	m.add(t, entry(5))
	late := m.checkpoint(t)
	m.ex.Checkpoints = [][]byte{early, late}

	skey, _, err := GenerateWitnessKey("imy.se/witness")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	w, err := NewWitness(skey, state, k.verifier, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Cosign(late, nil); err != nil {
		t.Fatal(err)
	}
	st, err := ReadWitnessState(state)
	if err != nil || st.Size != 5 {
		t.Fatalf("state %+v: %v", st, err)
	}
	if err := CheckWitnessState(&m.ex, k.signer.Name(), st); err != nil {
		t.Fatalf("the log the witness saw: %v", err)
	}

	// Cut back to the first three records and the early checkpoint.
	cut := &Export{Records: m.ex.Records[:3], Checkpoints: [][]byte{early}}
	if _, err := Verify(cut, k.verifier); err != nil {
		t.Fatalf("the cut log should verify on its own (that is the point): %v", err)
	}
	var ve *VerifyError
	if err := CheckWitnessState(cut, k.signer.Name(), st); !errors.As(err, &ve) || ve.Position != 4 {
		t.Fatalf("cut log against the witness state: %v", err)
	}

	// The same size, another history.
	forged := &Export{Records: append(append([]Record(nil), m.ex.Records[:4]...), Record{Seq: 5, Data: []byte(entry(6))})}
	if err := CheckWitnessState(forged, k.signer.Name(), st); !errors.As(err, &ve) {
		t.Fatalf("rewritten log against the witness state: %v", err)
	}
	// Another log's witness state.
	if err := CheckWitnessState(&m.ex, "other.example/log", st); err == nil {
		t.Fatal("a state for another log was accepted")
	}
}

// TestSubjects: a reply and a forward that name no subject are about the
// subject of the message they answer or pass on, through chains, and a
// record whose fields could not be opened is about no one known.
func TestSubjects(t *testing.T) {
	at := time.Now()
	mk := func(i int, replyTo string, p *Personal) Opened {
		r := rec(i, at)
		r.ReplyTo = replyTo
		return Opened{Seq: int64(i), Entry: newEntry(r), Personal: p}
	}
	id := func(i int) string { return rec(i, at).MessageID }
	recs := []Opened{
		mk(1, "", &Personal{Pseudonym: "ps-a"}),
		mk(2, "", &Personal{Pseudonym: "ps-b"}),
		mk(3, id(1), &Personal{}),                               // a reply without subject, old record: reply_to only
		mk(4, "", &Personal{SubjectOf: []string{id(3)}}),        // a forward of the reply
		mk(5, id(2), &Personal{Pseudonym: "ps-c"}),              // a reply naming its own subject
		mk(6, "", &Personal{SubjectOf: []string{"unknown-id"}}), // a forward of nothing known
		{Seq: 7, Entry: newEntry(rec(7, at)), Err: ErrShredded},
	}
	want := []Subject{{Pseudonym: "ps-a"}, {Pseudonym: "ps-b"}, {Pseudonym: "ps-a", From: id(1)},
		{Pseudonym: "ps-a", From: id(3)}, {Pseudonym: "ps-c"}, {}, {}}
	got := Subjects(recs)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: subject %+v, want %+v", i+1, got[i], want[i])
		}
	}
}
