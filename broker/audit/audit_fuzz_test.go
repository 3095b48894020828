package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/fuzzcorpus"
)

// fuzzLog is a small real log made with fixed keys, so that the checked-in
// seeds verify: four records, a checkpoint of two records cosigned by a
// witness and one of three (the fourth record is not yet covered), the
// export file, an inclusion proof and the witness's state.
type fuzzLog struct {
	signer   note.Signer
	verifier note.Verifier
	// witness signs with wskey and verifies with wvkey.
	wskey, wvkey string
	witness      note.Verifier
	now          func() time.Time

	ex        *Export
	file      []byte // the export file
	cp2, cp3  []byte // cp2 is cosigned
	root2     tlog.Hash
	proof23   tlog.TreeProof
	state2    []byte // the witness's state after cosigning cp2
	proofJSON []byte // inclusion proof of record 1 in cp3, as brokerctl writes it
}

// seedReader returns a reader of bytes derived from label, a stand-in for
// crypto/rand that makes the same key every time.
func seedReader(label string) *bytes.Reader {
	a := sha256.Sum256([]byte(label))
	b := sha256.Sum256(a[:])
	return bytes.NewReader(append(a[:], b[:]...))
}

func newFuzzLog(t testing.TB) *fuzzLog {
	t.Helper()
	l := &fuzzLog{now: func() time.Time { return time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC) }}
	skey, vkey, err := note.GenerateKey(seedReader("sekretessbroker fuzz audit key"), "sekretessbroker/audit")
	if err != nil {
		t.Fatal(err)
	}
	if l.signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if l.verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	// A witness key in the form GenerateWitnessKey writes.
	seed := sha256.Sum256([]byte("sekretessbroker fuzz witness key"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	h := fmt.Sprintf("%08x", cosignKeyHash("witness.example", priv.Public().(ed25519.PublicKey)))
	l.wskey = "PRIVATE+KEY+witness.example+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, seed[:]...))
	l.wvkey = "witness.example+" + h + "+" + base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...))
	if l.witness, err = NewWitnessVerifier(l.wvkey); err != nil {
		t.Fatal(err)
	}

	var tr tree
	ex := &Export{}
	at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		created := at.Add(-time.Minute)
		r := &decision.Record{
			DecisionID: fmt.Sprintf("%032x", i), DecidedAt: at.Add(time.Duration(i) * time.Second), InboundSeq: uint64(i),
			MessageID: fmt.Sprintf("%026d", i), Sender: "rosengard-skola", Recipient: "soc-malmo", Kind: "concern_report",
			CreatedAt: &created, Category: "concern", Outcome: decision.Delivered, Rule: "R-CONCERN", Basis: "SoL 14 kap. 1 §",
			PolicyRevision: "rev-1", InputSHA256: strings.Repeat("b", 64), EnvelopeSHA256: strings.Repeat(fmt.Sprint(i), 64),
		}
		if i == 3 {
			r.Outcome, r.Rule, r.Basis, r.ErrorCode = decision.Rejected, "", "", "policy_denied"
			r.Reasons = []string{"no rule allows health data to the police", "age < 18 & consent > none"}
		}
		e := newEntry(r)
		if i == 2 {
			e.Personal = &Sealed{Period: "2026-11", KeyID: "0011223344556677", Ciphertext: bytes.Repeat([]byte{0xa5}, 40)}
		}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ex.Records = append(ex.Records, Record{Seq: int64(i), Data: data})
		if err := tr.add(data); err != nil {
			t.Fatal(err)
		}
	}
	sign := func(size int64) []byte {
		root, err := tr.root(size)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := SignCheckpoint(l.signer, Checkpoint{Origin: l.signer.Name(), Size: size, Root: root, Time: at.Add(time.Duration(size) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	dir := t.TempDir()
	w, err := NewWitness(l.wskey, filepath.Join(dir, "state.json"), note.VerifierList(l.verifier), l.now)
	if err != nil {
		t.Fatal(err)
	}
	if l.cp2, err = w.Cosign(sign(2), nil); err != nil {
		t.Fatal(err)
	}
	if l.state2, err = os.ReadFile(filepath.Join(dir, "state.json")); err != nil {
		t.Fatal(err)
	}
	l.root2, _ = tr.root(2)
	l.cp3 = sign(3)
	ex.Checkpoints = [][]byte{l.cp2, l.cp3}
	l.ex = ex
	var b bytes.Buffer
	if _, err := ex.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	l.file = b.Bytes()
	if l.proof23, err = ConsistencyProof(ex, 2, 3); err != nil {
		t.Fatal(err)
	}
	p, err := Prove(ex, note.VerifierList(l.verifier), fmt.Sprintf("%032x", 1))
	if err != nil {
		t.Fatal(err)
	}
	if l.proofJSON, err = json.MarshalIndent(p, "", "  "); err != nil {
		t.Fatal(err)
	}
	return l
}

func joinHashes(hs []tlog.Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

func splitHashes(b []byte) []tlog.Hash {
	hs := make([]tlog.Hash, len(b)/tlog.HashSize)
	for i := range hs {
		copy(hs[i][:], b[i*tlog.HashSize:])
	}
	return hs
}

func TestFuzzCorpus(t *testing.T) {
	l := newFuzzLog(t)
	if _, err := Verify(l.ex, note.VerifierList(l.verifier)); err != nil {
		t.Fatalf("the seed export does not verify: %v", err)
	}
	file := string(l.file)
	lines := strings.SplitAfter(file, "\n")
	fuzzcorpus.Check(t, "FuzzReadExport", map[string][]any{
		"export":          {l.file},
		"empty":           {[]byte{}},
		"header-only":     {[]byte(lines[0])},
		"no-trailer":      {[]byte(strings.Join(lines[:len(lines)-2], ""))},
		"no-checkpoints":  {[]byte(lines[0] + lines[1] + lines[2] + `{"records":2,"checkpoints":0}` + "\n")},
		"crlf":            {[]byte(strings.ReplaceAll(file, "\n", "\r\n"))},
		"huge-seq":        {[]byte(lines[0] + `{"seq":9223372036854775807,"leaf":"","record":{}}` + "\n" + `{"records":1,"checkpoints":0}` + "\n")},
		"record-not-json": {[]byte(lines[0] + `{"seq":1,"leaf":"x","record":"\u0000"}` + "\n")},
	})
	tamper := map[string][]any{}
	off := 0
	for i, line := range lines[:len(lines)-1] {
		tamper[fmt.Sprintf("line%d-start", i)] = []any{uint32(off), byte('x')}
		tamper[fmt.Sprintf("line%d-end", i)] = []any{uint32(off + len(line) - 1), byte('\r')}
		tamper[fmt.Sprintf("line%d-mid", i)] = []any{uint32(off + len(line)/2), byte('0')}
		off += len(line)
	}
	fuzzcorpus.Check(t, "FuzzExportTamper", tamper)
	fuzzcorpus.Check(t, "FuzzCheckProof", map[string][]any{
		"proof":         {l.proofJSON},
		"empty":         {[]byte("{}")},
		"negative":      {[]byte(`{"index":-1,"path":[]}`)},
		"long-path":     {[]byte(`{"index":0,"path":[` + strings.Repeat(`"`+tlog.Hash{}.String()+`",`, 70) + `"` + tlog.Hash{}.String() + `"]}`)},
		"checkpoint-2":  {[]byte(`{"checkpoint":` + strings.TrimSpace(mustJSON(t, string(l.cp2))) + `,"index":0,"record":"e30="}`)},
		"not-an-object": {[]byte(`[]`)},
	})
	tamperProof := map[string][]any{}
	for _, pos := range []int{0, 20, len(l.proofJSON) / 2, len(l.proofJSON) - 2} {
		tamperProof[fmt.Sprintf("at-%d", pos)] = []any{uint32(pos), byte('A')}
	}
	fuzzcorpus.Check(t, "FuzzProofTamper", tamperProof)
	body2, _, _ := strings.Cut(string(l.cp2), "\n\n")
	fuzzcorpus.Check(t, "FuzzParseCheckpoint", map[string][]any{
		"checkpoint": {body2 + "\n"},
		"no-time":    {"o\n1\n" + tlog.Hash{}.String() + "\n"},
		"extension":  {body2 + "\nother line\n"},
		"bad-size":   {"o\n-1\n" + tlog.Hash{}.String() + "\ntime x\n"},
		"offset":     {"o\n+007\n" + tlog.Hash{}.String() + "\ntime 0000-01-01T00:30:00+01:00\n"},
		"empty":      {""},
	})
	fuzzcorpus.Check(t, "FuzzOpenCheckpoint", map[string][]any{
		"cosigned":  {l.cp2},
		"log-only":  {l.cp3},
		"unsigned":  {[]byte(body2 + "\n\n")},
		"two-notes": {append(bytes.Clone(l.cp3), l.cp2...)},
		"empty":     {[]byte{}},
	})
	bad := bytes.Clone(joinHashes(l.proof23))
	bad[0] ^= 1
	fuzzcorpus.Check(t, "FuzzCosign", map[string][]any{
		"extends":      {l.cp3, joinHashes(l.proof23)},
		"bad-proof":    {l.cp3, bad},
		"same":         {l.cp2, []byte{}},
		"stale":        {l.cp2[:0], []byte{}},
		"no-proof":     {l.cp3, []byte{}},
		"extra-hashes": {l.cp3, append(joinHashes(l.proof23), make([]byte, 64)...)},
	})
	fuzzcorpus.Check(t, "FuzzWitnessKey", map[string][]any{
		"public":     {l.wvkey},
		"private":    {l.wskey},
		"audit-key":  {l.verifier.Name() + "+" + fmt.Sprintf("%08x", l.verifier.KeyHash()) + "+AQ=="},
		"empty-name": {"+00000000+" + base64.StdEncoding.EncodeToString(make([]byte, 33))},
		"spaces":     {"  " + l.wvkey + "\n"},
		"empty":      {""},
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzReadExport reads arbitrary export files. One that reads must write
// back to a file that reads the same and re-encodes byte for byte; one that
// verifies must prove its first covered record with a proof that checks.
func FuzzReadExport(f *testing.F) {
	l := newFuzzLog(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ex, err := ReadExport(bytes.NewReader(b))
		if err != nil {
			return
		}
		var w1 bytes.Buffer
		if _, err := ex.WriteTo(&w1); err != nil {
			t.Fatalf("an export that reads does not write: %v", err)
		}
		ex2, err := ReadExport(bytes.NewReader(w1.Bytes()))
		if err != nil {
			t.Fatalf("a written export does not read: %v\n%s", err, w1.Bytes())
		}
		if !reflect.DeepEqual(ex, ex2) {
			t.Fatal("export differs after a round trip")
		}
		var w2 bytes.Buffer
		if _, err := ex2.WriteTo(&w2); err != nil || !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("export does not re-encode stably (%v)", err)
		}
		for _, msg := range ex.Checkpoints {
			Cosigned(msg, l.witness)
			_, _ = ParseCheckpointNote(msg)
		}
		rep, err := Verify(ex, note.VerifierList(l.verifier))
		if err != nil {
			return
		}
		if rep.Records != int64(len(ex.Records)) || rep.Uncovered != rep.Records-rep.Latest.Size || rep.Latest.Size > rep.Records {
			t.Fatalf("inconsistent report %+v for %d records", rep, len(ex.Records))
		}
		if rep.Latest.Size == 0 {
			return
		}
		e, err := ParseEntry(ex.Records[0].Data)
		if err != nil {
			t.Fatalf("a verified record does not parse: %v", err)
		}
		p, err := Prove(ex, note.VerifierList(l.verifier), e.DecisionID)
		if err != nil {
			t.Fatalf("a verified, covered record does not prove: %v", err)
		}
		got, c, err := CheckProof(p, note.VerifierList(l.verifier))
		if err != nil || got.DecisionID != e.DecisionID || c != rep.Latest {
			t.Fatalf("proof of a verified record does not check: %v", err)
		}
	})
}

// FuzzExportTamper changes one byte of a real export file. Whatever still
// reads and verifies must be the same log: the same records, tree and
// checkpoints.
func FuzzExportTamper(f *testing.F) {
	l := newFuzzLog(f)
	want, err := Verify(l.ex, note.VerifierList(l.verifier))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pos uint32, val byte) {
		b := bytes.Clone(l.file)
		p := int(pos % uint32(len(b)))
		if b[p] == val {
			return
		}
		b[p] = val
		ex, err := ReadExport(bytes.NewReader(b))
		if err != nil {
			return
		}
		rep, err := Verify(ex, note.VerifierList(l.verifier))
		if err != nil {
			return
		}
		if !reflect.DeepEqual(ex.Records, l.ex.Records) {
			t.Fatalf("byte %d changed to %q: the records differ but verify", p, val)
		}
		if rep.Records != want.Records || rep.Root != want.Root || rep.Latest != want.Latest ||
			rep.Checkpoints != want.Checkpoints || rep.Uncovered != want.Uncovered {
			t.Fatalf("byte %d changed to %q: report %+v, want %+v", p, val, rep, want)
		}
	})
}

// FuzzCheckProof checks arbitrary proof files as "brokerctl audit
// check-proof" reads them. A proof that checks must still check after a
// round trip through JSON and name the record it carries.
func FuzzCheckProof(f *testing.F) {
	l := newFuzzLog(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Proof
		if err := json.Unmarshal(b, &p); err != nil {
			return
		}
		e, c, err := CheckProof(&p, note.VerifierList(l.verifier))
		if err != nil {
			return
		}
		if p.Index < 0 || p.Index >= c.Size {
			t.Fatalf("proof of index %d checks in a checkpoint of %d records", p.Index, c.Size)
		}
		b2, err := json.Marshal(&p)
		if err != nil {
			t.Fatal(err)
		}
		var p2 Proof
		if err := json.Unmarshal(b2, &p2); err != nil {
			t.Fatal(err)
		}
		e2, c2, err := CheckProof(&p2, note.VerifierList(l.verifier))
		if err != nil || c2 != c || e2.DecisionID != e.DecisionID {
			t.Fatalf("proof does not check after a round trip: %v", err)
		}
	})
}

// FuzzProofTamper changes one byte of a real proof file: whatever still
// checks must prove the same record at the same place in the same checkpoint.
func FuzzProofTamper(f *testing.F) {
	l := newFuzzLog(f)
	var want Proof
	if err := json.Unmarshal(l.proofJSON, &want); err != nil {
		f.Fatal(err)
	}
	_, wantC, err := CheckProof(&want, note.VerifierList(l.verifier))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pos uint32, val byte) {
		b := bytes.Clone(l.proofJSON)
		p := int(pos % uint32(len(b)))
		if b[p] == val {
			return
		}
		b[p] = val
		var got Proof
		if err := json.Unmarshal(b, &got); err != nil {
			return
		}
		_, c, err := CheckProof(&got, note.VerifierList(l.verifier))
		if err != nil {
			return
		}
		if c != wantC || got.Index != want.Index || !bytes.Equal(got.Record, want.Record) {
			t.Fatalf("byte %d changed to %q: proves record %d (%q) in %+v", p, val, got.Index, got.Record, c)
		}
	})
}

// Found by FuzzParseCheckpoint: a time whose offset puts it before year 0
// in UTC parsed, but its Body did not; other texts parsed to a checkpoint
// whose Body differs. Only the form Body writes parses now.
func TestParseCheckpointCanonical(t *testing.T) {
	h := tlog.Hash{}.String()
	good := "o\n7\n" + h + "\ntime 2026-11-02T10:02:00Z\n"
	if c, err := ParseCheckpoint(good); err != nil || c.Size != 7 || c.Body() != good {
		t.Fatalf("ParseCheckpoint(%q) = %+v, %v", good, c, err)
	}
	for _, bad := range []string{
		"o\n7\n" + h + "\ntime 0000-01-01T00:30:00+01:00\n",
		"o\n7\n" + h + "\ntime 2026-11-02T11:02:00+01:00\n",
		"o\n7\n" + h + "\ntime 2026-11-02T10:02:00.5Z\n",
		"o\n+7\n" + h + "\ntime 2026-11-02T10:02:00Z\n",
		"o\n07\n" + h + "\ntime 2026-11-02T10:02:00Z\n",
		"o\n7\n" + h + "\n",
		"o\n7\n" + h + "\ntime 2026-11-02T10:02:00Z\nextension\n",
	} {
		if c, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) = %+v, want an error", bad, c)
		}
	}
}

// FuzzParseCheckpoint parses arbitrary checkpoint texts. One that parses
// must be in the one form Body writes, so that a checkpoint has exactly one
// text.
func FuzzParseCheckpoint(f *testing.F) {
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if c.Size < 0 {
			t.Fatalf("negative size %d", c.Size)
		}
		c2, err := ParseCheckpoint(c.Body())
		if err != nil {
			t.Fatalf("the body of a parsed checkpoint does not parse: %v\n%s", err, c.Body())
		}
		if c2 != c || c2.Body() != text {
			t.Fatalf("checkpoint does not round-trip:\n%q\n%q", text, c2.Body())
		}
	})
}

// FuzzOpenCheckpoint opens arbitrary signed notes as checkpoints of the
// log. One that opens must parse the same without verifying, and must name
// the log as its origin.
func FuzzOpenCheckpoint(f *testing.F) {
	l := newFuzzLog(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		Cosigned(msg, l.witness, l.verifier)
		pc, perr := ParseCheckpointNote(msg)
		c, n, err := OpenCheckpoint(msg, note.VerifierList(l.verifier))
		if err != nil {
			return
		}
		if c.Origin != l.verifier.Name() || n == nil {
			t.Fatalf("checkpoint of origin %q opens", c.Origin)
		}
		if perr != nil || pc != c {
			t.Fatalf("ParseCheckpointNote = %+v, %v; OpenCheckpoint = %+v", pc, perr, c)
		}
	})
}

// FuzzCosign asks a witness that last signed the log's checkpoint of two
// records to cosign an arbitrary note with an arbitrary consistency proof.
// It must sign only a checkpoint that extends the one it signed.
func FuzzCosign(f *testing.F) {
	l := newFuzzLog(f)
	state := filepath.Join(f.TempDir(), "state.json")
	w, err := NewWitness(l.wskey, state, note.VerifierList(l.verifier), l.now)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg, proof []byte) {
		if err := os.WriteFile(state, l.state2, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := w.Cosign(msg, splitHashes(proof))
		if err != nil {
			return
		}
		c, _, err := OpenCheckpoint(msg, note.VerifierList(l.verifier))
		if err != nil {
			t.Fatalf("cosigned a note the log did not sign: %v", err)
		}
		switch {
		case c.Size == 2 && c.Root == l.root2:
		case c.Size > 2 && tlog.CheckTree(splitHashes(proof), c.Size, c.Root, 2, l.root2) == nil:
		default:
			t.Fatalf("cosigned checkpoint of %d records that does not extend the one of 2", c.Size)
		}
		if got := Cosigned(out, l.witness, l.verifier); len(got) != 2 {
			t.Fatalf("cosigned note verifies with %v", got)
		}
		if n, err := w.LastSize(); err != nil || n != c.Size {
			t.Fatalf("witness state says %d (%v), want %d", n, err, c.Size)
		}
	})
}

// Found by FuzzWitnessKey: a private key's hash was never checked and its
// name could be empty. A line break inside the base64 key was skipped too.
func TestWitnessKeyCanonical(t *testing.T) {
	l := newFuzzLog(t)
	if _, err := NewWitnessVerifier(l.wvkey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseKey(l.wskey, true); err != nil {
		t.Fatal(err)
	}
	lineBreak := func(k string) string { // in the middle of the base64 key
		return k[:len(k)-10] + "\n" + k[len(k)-10:]
	}
	for _, bad := range []string{
		lineBreak(l.wvkey),
		strings.Replace(l.wvkey, "witness.example", "other", 1),
	} {
		if _, err := NewWitnessVerifier(bad); err == nil {
			t.Errorf("NewWitnessVerifier(%q) accepted", bad)
		}
	}
	for _, bad := range []string{
		lineBreak(l.wskey),
		strings.Replace(l.wskey, "witness.example", "other", 1),
		strings.Replace(l.wskey, "witness.example", "", 1),
	} {
		if _, _, err := parseKey(bad, true); err == nil {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
}

// FuzzWitnessKey parses arbitrary witness keys. A key that parses must be
// in the one form GenerateWitnessKey writes.
func FuzzWitnessKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, key string) {
		if v, err := NewWitnessVerifier(key); err == nil {
			cv := v.(*cosignVerifier)
			canon := fmt.Sprintf("%s+%08x+%s", cv.name, cv.KeyHash(), base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, cv.pub...)))
			if canon != strings.TrimSpace(key) {
				t.Fatalf("witness key %q parses but is not in canonical form %q", key, canon)
			}
			if cv.name == "" || strings.ContainsFunc(cv.name, unicode.IsSpace) {
				t.Fatalf("witness key with name %q parses", cv.name)
			}
		}
		if name, seed, err := parseKey(key, true); err == nil {
			if len(seed) != ed25519.SeedSize {
				t.Fatalf("private key of %d bytes parses", len(seed))
			}
			pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
			canon := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, cosignKeyHash(name, pub), base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, seed...)))
			if canon != strings.TrimSpace(key) {
				t.Fatalf("witness private key %q parses but is not in canonical form %q", key, canon)
			}
		}
	})
}
