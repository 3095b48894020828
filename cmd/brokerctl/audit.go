package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// auditSource is where an audit command reads the log: an export file, or
// the stream itself through NATS with an auditor's credentials, which may
// read the log and never write it (bus.AuditorPermissions). Only shred logs
// in as the broker.
type auditSource struct {
	data, url, file, key string
	auditorNKey          string
	tls                  tlsFlags
}

func (a *auditSource) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.data, "data", defaults.DataDir, "data directory (auditor NATS credentials and audit public key)")
	fs.StringVar(&a.auditorNKey, "auditor-nkey", "", "NATS seed of an auditor listed in the directory, who may read the audit log and not write it\n"+
		"(default <data>/broker/"+keys.AuditorNKeyFile+", made by brokerctl init)")
	fs.StringVar(&a.url, "nats-url", defaults.NATSURL, "NATS URL of the broker")
	fs.StringVar(&a.file, "file", "", "read an exported audit file instead of the stream")
	fs.StringVar(&a.key, "key", "", "file of the audit public keys, one a line; a checkpoint signed by any verifies\n"+
		"(default <data>/broker/"+keys.AuditKeyHistoryFile+" and "+keys.AuditPublicKeyFile+": every key the broker has had)")
	a.tls.flags(fs, "<data>/broker/tls/broker.crt")
}

// verifiers returns the audit keys a checkpoint may be signed with: --key,
// or the broker's key history.
func (a *auditSource) verifiers() (note.Verifiers, error) {
	if a.key != "" {
		return keys.LoadAuditVerifiers(a.key)
	}
	return keys.AuditKeyHistory(layout.BrokerKeys(a.data))
}

// connect dials NATS as an auditor: every audit command but shred reads
// the log this way, so that none of them could write to it.
func (a *auditSource) connect() (*nats.Conn, jetstream.JetStream, error) {
	opts, err := a.tls.natsOptions(a.data)
	if err != nil {
		return nil, nil, err
	}
	path := a.auditorNKey
	if path == "" {
		path = filepath.Join(layout.BrokerKeys(a.data), keys.AuditorNKeyFile)
	}
	nkeyOpt, err := nats.NkeyOptionFromSeed(path)
	if err != nil {
		return nil, nil, fmt.Errorf("auditor NATS key %s (brokerctl init makes one; or give --auditor-nkey): %w", path, err)
	}
	opts = append([]nats.Option{nkeyOpt, nats.CustomInboxPrefix(bus.AuditorInbox), nats.Name("brokerctl audit")}, opts...)
	nc, err := nats.Connect(a.url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s as auditor: %w", a.url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// connectAsBroker dials NATS as the broker: for shred only, which destroys
// keys.
func (a *auditSource) connectAsBroker() (*nats.Conn, jetstream.JetStream, error) {
	opts, err := a.tls.natsOptions(a.data)
	if err != nil {
		return nil, nil, err
	}
	return service.ConnectAsBroker(a.data, a.url, append(opts, nats.Name("brokerctl audit"))...)
}

func (a *auditSource) read(ctx context.Context) (*audit.Export, string, error) {
	if a.file != "" {
		f, err := os.Open(a.file)
		if err != nil {
			return nil, "", err
		}
		defer f.Close()
		ex, err := audit.ReadExport(f)
		return ex, a.file, err
	}
	nc, js, err := a.connect()
	if err != nil {
		return nil, "", err
	}
	defer nc.Close()
	ex, err := audit.ReadStream(ctx, js)
	return ex, "stream " + bus.StreamAudit, err
}

// positional parses fs and returns its one positional argument, which may
// stand anywhere among the flags, or "" when there is none.
func positional(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseArgs(fs, args)
	switch {
	case err != nil:
		return "", err
	case len(pos) > 1:
		return "", fmt.Errorf("unexpected argument %q; run %s -h", pos[1], fs.Name())
	case len(pos) == 1:
		return pos[0], nil
	}
	return "", nil
}

// runAudit runs audit command cmd.
func runAudit(cmd string, args []string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	switch cmd {
	case "verify":
		return cmdAuditVerify(ctx, args, out)
	case "export":
		return cmdAuditExport(ctx, args, out)
	case "prove":
		return cmdAuditProve(ctx, args, out)
	case "check-proof":
		return cmdAuditCheckProof(args, out)
	case "show":
		return cmdAuditShow(ctx, args, out)
	case "report":
		return cmdAuditReport(ctx, args, out)
	case "shred":
		return cmdAuditShred(ctx, args, out)
	case "witness":
		return cmdAuditWitness(ctx, args, out)
	case "witness-key":
		return cmdAuditWitnessKey(args, out)
	case "rotate-key":
		return cmdAuditRotateKey(args, out)
	}
	return unknown("audit", cmd)
}

func cmdAuditVerify(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit verify", out)
	var a auditSource
	a.flags(fs)
	var witnesses, states fileList
	fs.Var(&witnesses, "witnesses", "file of witness public keys, one a line: report what each cosigned (repeatable)")
	fs.Var(&states, "witness-state", "a witness's state file (audit witness --state): fail unless the log holds\nwhat that witness cosigned (repeatable)")
	interval := fs.Duration("checkpoint-interval", defaults.CheckpointInterval, "the broker's --checkpoint-interval: when the newest records will be covered by a checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	v, err := a.verifiers()
	if err != nil {
		return err
	}
	wvs, err := loadWitnessKeys(witnesses...)
	if err != nil {
		return err
	}
	var sts []audit.WitnessState
	for _, f := range states {
		st, err := audit.ReadWitnessState(f)
		if err != nil {
			return err
		}
		sts = append(sts, st)
	}
	ex, from, err := a.read(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", a.file, err)
	}
	rep, err := audit.Verify(ex, v)
	if err != nil {
		return fmt.Errorf("%s: %w", from, err)
	}
	// The checkpoints in the log cannot show a truncation that took them
	// along; what a witness cosigned can.
	for i, st := range sts {
		if err := audit.CheckWitnessState(ex, rep.Latest.Origin, st); err != nil {
			return fmt.Errorf("%s: against witness state %s: %w", from, states[i], err)
		}
	}
	fmt.Fprintf(out, "%s: %d records, tree root %s", from, rep.Records, rep.Root)
	if rep.Checkpoints > 0 {
		fmt.Fprintf(out, ", %d checkpoints verify (latest: %d records at %s)",
			rep.Checkpoints, rep.Latest.Size, rep.Latest.Time.Format(time.RFC3339))
	}
	fmt.Fprintln(out)
	if rep.Uncovered > 0 {
		fmt.Fprintln(out, waitingForCheckpoint(rep, oldestUncovered(ex, rep), *interval, time.Now()))
	}
	// Every checkpoint verified against the tree above, so a cosigned size
	// at or below the log's size is history the witness has seen too.
	for _, wv := range wvs {
		var size int64
		for _, msg := range ex.Checkpoints {
			if len(audit.Cosigned(msg, wv)) == 0 {
				continue
			}
			if c, err := audit.ParseCheckpointNote(msg); err == nil {
				size = max(size, c.Size)
			}
		}
		fmt.Fprintf(out, "witness %s cosigned up to %d records\n", wv.Name(), size)
	}
	for i, st := range sts {
		fmt.Fprintf(out, "witness state %s: the log holds the %d records the witness cosigned\n", states[i], st.Size)
	}
	return checkRecordSignatures(ex, v, from, out)
}

// oldestUncovered returns when the oldest record after the latest checkpoint
// was decided, or the zero time when it cannot be read.
func oldestUncovered(ex *audit.Export, rep *audit.Report) time.Time {
	i := rep.Records - rep.Uncovered
	if rep.Uncovered <= 0 || i < 0 || i >= int64(len(ex.Records)) {
		return time.Time{}
	}
	e, err := audit.ParseEntry(ex.Records[i].Data)
	if err != nil {
		return time.Time{}
	}
	return e.Decision.DecidedAt
}

// waitingForCheckpoint says that the newest records are not signed yet, and
// by when the checkpoint that signs them is due: the broker publishes one
// every interval while the log grows, so at the latest one interval after
// the oldest of them was recorded (oldest; zero when not known). A
// checkpoint overdue by more than another interval means the broker is not
// publishing them.
func waitingForCheckpoint(rep *audit.Report, oldest time.Time, interval time.Duration, now time.Time) string {
	what := fmt.Sprintf("The newest %d records wait", rep.Uncovered)
	switch {
	case rep.Checkpoints == 0 && rep.Uncovered == 1:
		what = "The log's one record waits"
	case rep.Checkpoints == 0:
		what = fmt.Sprintf("All %d records wait", rep.Uncovered)
	case rep.Uncovered == 1:
		what = "The newest record waits"
	}
	if oldest.IsZero() {
		return fmt.Sprintf("%s for the next checkpoint, due within %s of being recorded (the broker's --checkpoint-interval), and when the broker stops; verify again then to see them signed.",
			what, interval)
	}
	// The broker's ticker runs every interval: the record is covered at
	// the latest one interval after it was recorded (rounded up).
	due := oldest.Add(interval).Truncate(time.Second).Add(time.Second)
	at := due.Local().Format("2006-01-02 15:04:05 MST")
	if now.Before(due.Add(interval)) {
		return fmt.Sprintf("%s for the next checkpoint, due by %s (one every %s, the broker's --checkpoint-interval); verify again then to see them signed.",
			what, at, interval)
	}
	return fmt.Sprintf("%s for a checkpoint that was due by %s (one every %s, the broker's --checkpoint-interval): is the broker running? It publishes one every interval while the log grows, and when it stops.",
		what, at, interval)
}

// checkRecordSignatures reports every record the broker did not sign: one
// published on the audit subject by anyone else. They are in the tree (the
// checkpoints sign the stream as it is) but the broker never acted on them.
func checkRecordSignatures(ex *audit.Export, v note.Verifiers, from string, out io.Writer) error {
	bad, legacy := audit.CheckRecordSignatures(ex, v)
	if legacy > 0 {
		fmt.Fprintf(out, "the first %d records were written before records were signed\n", legacy)
	}
	for _, b := range bad {
		fmt.Fprintf(out, "record %d: not written by the broker: %v\n", b.Position, b.Err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s: %d records not written by the broker, the first at position %d: find who could publish on %s",
			from, len(bad), bad[0].Position, bus.AuditRecord)
	}
	return nil
}

func cmdAuditExport(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit export", out)
	var a auditSource
	a.flags(fs)
	path := fs.String("out", "", "write the export here (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	ex, _, err := a.read(ctx)
	if err != nil {
		return err
	}
	if *path == "" {
		_, err := ex.WriteTo(out)
		return err
	}
	// An export is evidence: it is written whole or not at all, and never
	// over an earlier one.
	var b bytes.Buffer
	if _, err := ex.WriteTo(&b); err != nil {
		return err
	}
	if err := safefile.Create(*path, b.Bytes(), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "exported %d records and %d checkpoints to %s\n", len(ex.Records), len(ex.Checkpoints), *path)
	return nil
}

func cmdAuditProve(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit prove", out)
	var a auditSource
	a.flags(fs)
	id, err := positional(fs, args)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("audit prove needs a decision id")
	}
	v, err := a.verifiers()
	if err != nil {
		return err
	}
	ex, _, err := a.read(ctx)
	if err != nil {
		return err
	}
	p, err := audit.Prove(ex, v, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func cmdAuditCheckProof(args []string, out io.Writer) error {
	fs := newFlags("audit check-proof", out)
	key := fs.String("key", "", "the audit log's public key file: audit.pub, or "+keys.AuditKeyHistoryFile+" (every key it has had, one a line)")
	var witnesses fileList
	fs.Var(&witnesses, "witness-key", "file of witness public keys, one a line: each must have cosigned the proof's checkpoint (repeatable)")
	file, err := positional(fs, args)
	if err != nil {
		return err
	}
	if file == "" || *key == "" {
		return errors.New("audit check-proof needs a proof file and --key; run brokerctl audit check-proof -h")
	}
	v, err := keys.LoadAuditVerifiers(*key)
	if err != nil {
		return err
	}
	wvs, err := loadWitnessKeys(witnesses...)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var p audit.Proof
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: not a proof: %w", file, err)
	}
	e, c, err := audit.CheckProof(&p, v)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "decision %s (%s %s→%s, %s) is record %d of the log, included in the checkpoint of %d records signed at %s\n",
		e.DecisionID, e.Decision.Outcome, e.Decision.Sender, e.Decision.Recipient, e.Decision.Kind,
		p.Index+1, c.Size, c.Time.Format(time.RFC3339))
	var missing []string
	for _, wv := range wvs {
		if len(audit.Cosigned([]byte(p.Checkpoint), wv)) == 1 {
			fmt.Fprintf(out, "witness %s cosigned this checkpoint\n", wv.Name())
		} else {
			fmt.Fprintf(out, "witness %s did NOT cosign this checkpoint\n", wv.Name())
			missing = append(missing, wv.Name())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the checkpoint lacks the cosignature of %s: prove again after the witnesses have cosigned (audit witness)", strings.Join(missing, ", "))
	}
	return nil
}

func cmdAuditShow(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit show", out)
	var a auditSource
	a.flags(fs)
	from := fs.String("from", "", "only decisions at or after this time (RFC 3339 or YYYY-MM-DD)")
	to := fs.String("to", "", "only decisions before this time (RFC 3339 or YYYY-MM-DD)")
	ag := fs.String("agency", "", "only decisions with this agency as sender or recipient")
	rule := fs.String("rule", "", "only decisions by this rule")
	kind := fs.String("kind", "", "only messages of this kind (concern_report, response, disclosure, ...)")
	category := fs.String("category", "", "only messages of this data category (concern, health, ...)")
	allowed := fs.Bool("allowed", false, "only delivered messages")
	denied := fs.Bool("denied", false, "only rejected messages")
	identity := fs.String("identity", "", "auditor age identity file: decrypt the personal fields")
	var who subjectFlags
	who.flags(fs)
	asJSON := fs.Bool("json", false, "one JSON object a line: the stored record, and the opened personal fields")
	summary := fs.Bool("summary", false, "counts by outcome, rule and agency instead of the rows")
	if err := parse(fs, args); err != nil {
		return err
	}
	var lo, hi time.Time
	var err error
	if *from != "" {
		if lo, err = parseTime(*from); err != nil {
			return err
		}
	}
	if *to != "" {
		if hi, err = parseTime(*to); err != nil {
			return err
		}
	}
	var ps string
	if who.set() {
		if *identity == "" {
			return errors.New("--personnummer and --pseudonym need --identity: who a decision is about is sealed to the auditors")
		}
		if ps, err = who.resolve(a.data); err != nil {
			return err
		}
	}
	ex, _, err := a.read(ctx)
	if err != nil {
		return err
	}
	var opener *audit.Opener
	if *identity != "" {
		o, nc, err := a.opener(ctx, *identity)
		if err != nil {
			return err
		}
		defer nc.Close()
		opener = o
	}
	all, err := openAll(ctx, ex, opener)
	if err != nil {
		return err
	}
	var subjects []audit.Subject
	if opener != nil {
		// Over the whole log: a reply's subject is its question's.
		subjects = audit.Subjects(all)
	}
	var recs []audit.Opened
	var subj []audit.Subject
	for i, r := range all {
		d := &r.Entry.Decision
		switch {
		case !lo.IsZero() && d.DecidedAt.Before(lo),
			!hi.IsZero() && !d.DecidedAt.Before(hi),
			*ag != "" && d.Sender != *ag && d.Recipient != *ag,
			*rule != "" && d.Rule != *rule,
			*kind != "" && d.Kind != *kind,
			*category != "" && d.Category != *category,
			*allowed && !d.Allowed(),
			*denied && d.Allowed(),
			ps != "" && subjects[i].Pseudonym != ps:
			continue
		}
		recs = append(recs, r)
		if subjects != nil {
			subj = append(subj, subjects[i])
		}
	}
	switch {
	case *summary:
		return showSummary(out, recs)
	case !*asJSON:
		if subjects != nil && subj == nil {
			subj = []audit.Subject{}
		}
		if err := showTable(out, recs, subj); err != nil {
			return err
		}
		if opener != nil {
			writeUnreadable(out, unreadableOf(recs))
		}
		return nil
	}
	enc := json.NewEncoder(out)
	for _, r := range recs {
		row := map[string]any{"seq": r.Seq, "record": r.Entry}
		switch {
		case r.Err != nil:
			row["personal_error"] = r.Err.Error()
		case r.Personal != nil:
			row["personal_fields"] = r.Personal
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD", s)
	}
	return t, nil
}

// cmdAuditShred destroys the data keys of past periods. It is the one audit
// command that connects as the broker, not as an auditor: it erases keys
// and appends the record of their destruction, signed with the broker's
// audit key, so it runs where the broker's data directory is.
func cmdAuditShred(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit shred", out)
	var a auditSource
	a.flags(fs)
	before := fs.String("before", "", "destroy the data keys of every month that ended on or before this date (YYYY-MM-DD);\n"+
		"the current month and later ones are refused")
	asJSON := fs.Bool("json", false, "report what was destroyed as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *before == "" {
		return errors.New("audit shred needs --before DATE")
	}
	t, err := parseTime(*before)
	if err != nil {
		return err
	}
	bdir := layout.BrokerKeys(a.data)
	signer, _, err := keys.LoadAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile))
	if err != nil {
		return fmt.Errorf("audit shred signs the record of what it destroys with the broker's audit key: %w", err)
	}
	nc, js, err := a.connectAsBroker()
	if err != nil {
		return err
	}
	defer nc.Close()
	rep, err := audit.Shred(ctx, js, signer, t, time.Now())
	if rep != nil && *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(rep); jerr != nil && err == nil {
			err = jerr
		}
	} else if rep != nil {
		for _, k := range rep.Keys {
			fmt.Fprintf(out, "shredded data key %s of %s (%d stored copies): %s\n", k.KeyID, k.Period, k.Copies, k.How)
		}
		how := "erased from disk"
		if !rep.Erased {
			how = "some purged, not erased: an older deployment's key bucket denies deletes and its files keep the bytes until JetStream compacts them"
		}
		fmt.Fprintf(out, "shredded the personal fields of %d periods (%s): %s\n", len(rep.Periods()), how, strings.Join(rep.Periods(), " "))
	}
	return err
}

func cmdAuditWitnessKey(args []string, out io.Writer) error {
	fs := newFlags("audit witness-key", out)
	name := fs.String("name", "", "witness name, e.g. jo.se/witness")
	path := fs.String("out", "", "write the private key here (mode 0600)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" || *path == "" {
		return errors.New("audit witness-key needs --name and --out")
	}
	skey, vkey, err := audit.GenerateWitnessKey(*name)
	if err != nil {
		return err
	}
	if err := safefile.Create(*path, []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Fprintln(out, vkey)
	return nil
}

func cmdAuditWitness(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit witness", out)
	var a auditSource
	a.flags(fs)
	wkey := fs.String("witness-key", "", "the witness's private key file (brokerctl audit witness-key)")
	state := fs.String("state", "", "the witness's state file: the last checkpoint it signed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *wkey == "" || *state == "" {
		return errors.New("audit witness needs --witness-key and --state")
	}
	v, err := a.verifiers()
	if err != nil {
		return err
	}
	skey, err := os.ReadFile(*wkey)
	if err != nil {
		return err
	}
	w, err := audit.NewWitness(string(skey), *state, v, nil)
	if err != nil {
		return err
	}
	// The witness checks the log itself: the tree, every checkpoint, and that
	// the latest extends what it signed last.
	ex, _, err := a.read(ctx)
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ex, v)
	if err != nil {
		return err
	}
	if rep.LatestNote == nil {
		return errors.New("the log has no checkpoint yet")
	}
	old, err := w.LastSize()
	if err != nil {
		return err
	}
	proof, err := audit.ConsistencyProof(ex, min(old, rep.Latest.Size), rep.Latest.Size)
	if err != nil {
		return err
	}
	cosigned, err := w.Cosign(rep.LatestNote, proof)
	if err != nil {
		return err
	}
	if a.file == "" {
		nc, js, err := a.connect()
		if err != nil {
			return err
		}
		defer nc.Close()
		if _, err := js.Publish(ctx, bus.AuditCosignedPrefix+strings.ReplaceAll(w.Name(), "/", "_"), cosigned); err != nil {
			return fmt.Errorf("publish cosigned checkpoint: %w", err)
		}
	}
	_, err = out.Write(cosigned)
	return err
}

// cmdAuditRotateKey replaces the broker's audit checkpoint key. The history
// file keeps every public key, so checkpoints signed before stay verifiable.
func cmdAuditRotateKey(args []string, out io.Writer) error {
	fs := newFlags("audit rotate-key", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	bdir := layout.BrokerKeys(*data)
	vkey, err := keys.RotateAuditKey(filepath.Join(bdir, keys.AuditKeyFile), filepath.Join(bdir, keys.AuditPublicKeyFile), time.Now())
	if err != nil {
		return err
	}
	hist := filepath.Join(bdir, keys.AuditKeyHistoryFile)
	fmt.Fprintf(out, "new audit key %s\n"+
		"Restart the broker so that it signs checkpoints with it; until then it signs with the old one.\n"+
		"Every public key is kept in %s: give that file to auditors (audit verify --key, check-proof --key)\n"+
		"and to each witness (audit witness --key), which accept checkpoints signed by any key in it.\n", vkey, hist)
	return nil
}
