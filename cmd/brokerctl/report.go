package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"golang.org/x/mod/sumdb/note"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// commandHelp is the text "brokerctl NAME -h" prints above the flags, or ""
// for a command that has none of its own.
func commandHelp(name string) string {
	switch name {
	case "audit verify":
		return `Usage: brokerctl audit verify [--file EXPORT] [--key KEYS] [--witnesses FILE] [--witness-state FILE]... [--checkpoint-interval D]

Recomputes the Merkle tree over every record of the log (the stream, or an
export with --file), checks each checkpoint's signature with the audit keys and
that it matches the tree at its size, and names the first bad record.
--witnesses reports up to where each witness cosigned. --witness-state, a copy
of a witness's state file, makes verify fail when the log is shorter than, or
differs from, what that witness cosigned: the one truncation the checkpoints in
the log cannot show, because they were cut off with it.

Records after the latest checkpoint are in the tree but not yet signed: verify
says so, and by when the next checkpoint is due (the broker publishes one every
--checkpoint-interval while the log grows, and when it stops; give the
broker's value if it is not the default).
`
	case "audit export":
		return `Usage: brokerctl audit export [--out FILE]

Writes the log and its checkpoints (cosigned ones included) as an export file:
what an auditor takes away and checks with "audit verify --file".
`
	case "audit prove":
		return `Usage: brokerctl audit prove DECISION-ID [--file EXPORT] > proof.json

Writes the inclusion proof of one decision's record against the latest signed
checkpoint (the one with most cosignatures). "audit check-proof" verifies it
offline with the public keys alone.
`
	case "audit check-proof":
		return `Usage: brokerctl audit check-proof PROOF --key KEYS [--witness-key FILE]...

Verifies a proof from "audit prove" offline: the checkpoint's signature with
the audit keys, and that the record is in the tree it signs. With
--witness-key (a file of witness public keys, one a line; repeatable) it also
reports which witnesses cosigned that checkpoint, and fails if one did not.
`
	case "audit show":
		return `Usage: brokerctl audit show [filters] [--identity auditor.key] [--json | --summary]

Lists the decisions of the log as a table (--json: one JSON object a line, as
stored). The filters combine: --from, --to, --agency, --rule, --kind,
--category, --allowed or --denied. The personal fields (subject, purpose,
assessments) are sealed: --identity opens them, and --pseudonym or
--personnummer (pseudonym computed with the deployment's key) keep only the
decisions about one person, replies and forwards included. --summary prints
counts by outcome, rule and agency instead of the rows.
`
	case "audit report":
		return `Usage: brokerctl audit report --personnummer NR --identity auditor.key [--pseudonym-key FILE] [--json]

Every decision about one person, as a register extract: when, from which
agency to which, the kind of message, category, outcome, rule and legal basis,
the documented purpose and who asked and who judged. Replies and forwards that
name no subject of their own are found through the message they answer or
pass on. The pseudonym is computed here, with the deployment's pseudonym key
(--pseudonym-key: the key file or an agency's home; default
<agencies>/pseudonym.key beside --data, then <data>/pseudonym.key); the
personnummer never leaves this machine. --pseudonym takes a pseudonym instead.
`
	case "audit shred":
		return `Usage: brokerctl audit shred --before YYYY-MM-DD

Destroys the data keys of past months, so that the personal fields of their
records can never be opened again; the records stay, and the log still
verifies.
`
	case "audit witness-key":
		return `Usage: brokerctl audit witness-key --name NAME --out FILE

Makes a witness's key pair: the private key goes to FILE, the public key (to
hand to auditors, "audit verify --witnesses") is printed.
`
	case "audit witness":
		return `Usage: brokerctl audit witness --witness-key FILE --state FILE

Verifies the log and cosigns its latest checkpoint if it extends the last one
this witness cosigned (kept in --state), and publishes the cosignature.
`
	case "audit rotate-key":
		return `Usage: brokerctl audit rotate-key [--data DIR]

Replaces the broker's checkpoint key; every public key stays in the key
history, so older checkpoints still verify.
`
	}
	return ""
}

// fileList is a repeatable flag of file names.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(s string) error { *f = append(*f, s); return nil }

// loadWitnessKeys reads witness public keys, one a line, from files.
func loadWitnessKeys(files ...string) ([]note.Verifier, error) {
	var wvs []note.Verifier
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("witness keys: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			wv, err := audit.NewWitnessVerifier(l)
			if err != nil {
				return nil, fmt.Errorf("%s: %w (want the lines audit witness-key prints)", file, err)
			}
			wvs = append(wvs, wv)
		}
	}
	return wvs, nil
}

// opener returns an Opener of the log's sealed fields with the auditor
// identities in the file identity, and the connection to close after.
func (a *auditSource) opener(ctx context.Context, identity string) (*audit.Opener, *nats.Conn, error) {
	f, err := os.Open(identity)
	if err != nil {
		return nil, nil, fmt.Errorf("auditor identity: %w", err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", identity, err)
	}
	// The wrapped data keys are at the broker, even when the records come
	// from an export file.
	nc, js, err := a.connect()
	if err != nil {
		return nil, nil, fmt.Errorf("the data keys are in the broker's key streams: %w", err)
	}
	return audit.NewOpener(js, ids...), nc, nil
}

// openAll decodes every record of ex and, with an opener, opens its sealed
// fields. A record whose fields cannot be opened (a shredded period) keeps
// the error.
func openAll(ctx context.Context, ex *audit.Export, o *audit.Opener) ([]audit.Opened, error) {
	out := make([]audit.Opened, 0, len(ex.Records))
	for _, r := range ex.Records {
		e, err := audit.ParseEntry(r.Data)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", r.Seq, err)
		}
		rec := audit.Opened{Seq: r.Seq, Entry: e}
		if o != nil && e.Personal != nil {
			rec.Personal, rec.Err = o.Open(ctx, e.Personal, e.DecisionID)
		}
		out = append(out, rec)
	}
	return out, nil
}

// subjectFlags choose one person: by personnummer, with the deployment's
// pseudonym key, or by pseudonym.
type subjectFlags struct {
	pnr, pseudonym, key string
}

func (s *subjectFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&s.pnr, "personnummer", "", "the person's personnummer (YYYYMMDD-NNNN); the pseudonym is computed here")
	fs.StringVar(&s.pseudonym, "pseudonym", "", "the person's pseudonym, instead of --personnummer")
	fs.StringVar(&s.key, "pseudonym-key", "", "the deployment's pseudonym key file, or an agency home holding a copy\n"+
		"(default <agencies>/pseudonym.key beside --data, then <data>/pseudonym.key)")
}

func (s *subjectFlags) set() bool { return s.pnr != "" || s.pseudonym != "" }

// resolve returns the pseudonym asked for.
func (s *subjectFlags) resolve(data string) (string, error) {
	switch {
	case s.pnr != "" && s.pseudonym != "":
		return "", errors.New("give --personnummer or --pseudonym, not both")
	case s.pseudonym != "":
		return s.pseudonym, nil
	case s.pnr == "":
		return "", errors.New("give the person: --personnummer NR or --pseudonym P")
	}
	pnr, err := pseudonym.Parse(s.pnr)
	if err != nil {
		return "", err
	}
	path := s.key
	if path == "" {
		path = layout.PseudonymKey(layout.AgencyHomes(data))
		if _, err := os.Stat(path); err != nil {
			path = layout.PseudonymKey(data)
		}
	} else if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = layout.HomePseudonymKey(path)
	}
	k, err := pseudonym.LoadKey(path)
	if err != nil {
		return "", fmt.Errorf("%w; give the deployment's key with --pseudonym-key FILE", err)
	}
	return k.Of(pnr), nil
}

// reportRow is one decision of a register extract.
type reportRow struct {
	Seq         int64     `json:"seq"`
	DecisionID  string    `json:"decision_id"`
	DecidedAt   time.Time `json:"decided_at"`
	MessageID   string    `json:"message_id,omitempty"`
	Sender      string    `json:"sender"`
	Recipient   string    `json:"recipient"`
	Kind        string    `json:"kind"`
	Category    string    `json:"category,omitempty"`
	Outcome     string    `json:"outcome"`
	Rule        string    `json:"rule,omitempty"`
	Basis       string    `json:"basis,omitempty"`
	ErrorCode   string    `json:"error_code,omitempty"`
	Obligations []string  `json:"obligations,omitempty"`
	Reasons     []string  `json:"reasons,omitempty"`
	ReplyTo     string    `json:"reply_to,omitempty"`
	// SubjectFrom is the message whose subject this decision was found by,
	// for a reply or forward that names no subject itself.
	SubjectFrom string `json:"subject_from,omitempty"`
	Purpose     string `json:"purpose,omitempty"`
	PurposeCode string `json:"purpose_code,omitempty"`
	SenderRole  string `json:"sender_role,omitempty"`
	// SenderOfficial names the official who sent or asked.
	SenderOfficial string `json:"sender_official,omitempty"`
	// AssessedBy names each documented judgement and who made it.
	AssessedBy []string `json:"assessed_by,omitempty"`
}

// unreadable is a record whose sealed fields could not be opened: it may be
// about the person, and the report says so.
type unreadable struct {
	Seq    int64  `json:"seq"`
	Period string `json:"period"`
	Error  string `json:"error"`
}

// personReport is the register extract of one person.
type personReport struct {
	Pseudonym  string       `json:"pseudonym"`
	Source     string       `json:"source"`
	Records    int          `json:"records_read"`
	Decisions  []reportRow  `json:"decisions"`
	Unreadable []unreadable `json:"unreadable,omitempty"`
}

func newReportRow(r audit.Opened, s audit.Subject) reportRow {
	d := &r.Entry.Decision
	row := reportRow{Seq: r.Seq, DecisionID: d.DecisionID, DecidedAt: d.DecidedAt.UTC(), MessageID: d.MessageID,
		Sender: d.Sender, Recipient: d.Recipient, Kind: d.Kind, Category: d.Category, Outcome: d.Outcome,
		Rule: d.Rule, Basis: d.Basis, ErrorCode: d.ErrorCode, Obligations: d.Obligations, Reasons: d.Reasons,
		ReplyTo: d.ReplyTo, SubjectFrom: s.From}
	if p := r.Personal; p != nil {
		row.Purpose, row.PurposeCode, row.SenderRole, row.SenderOfficial = p.Purpose, p.PurposeCode, p.SenderRole, p.SenderOfficial
		paths := make([]string, 0, len(p.Assessments))
		for path := range p.Assessments {
			paths = append(paths, path)
		}
		sort.Strings(paths)
		for _, path := range paths {
			by := "?"
			if m, ok := p.Assessments[path].(map[string]any); ok {
				if s, ok := m["by"].(string); ok && s != "" {
					by = s
				}
			}
			row.AssessedBy = append(row.AssessedBy, path+": "+by)
		}
	}
	return row
}

func unreadableOf(recs []audit.Opened) []unreadable {
	var out []unreadable
	for _, r := range recs {
		if r.Err != nil {
			out = append(out, unreadable{Seq: r.Seq, Period: r.Entry.Personal.Period, Error: r.Err.Error()})
		}
	}
	return out
}

func cmdAuditReport(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("audit report", out)
	var a auditSource
	a.flags(fs)
	var who subjectFlags
	who.flags(fs)
	identity := fs.String("identity", "", "auditor age identity file: opens the sealed personal fields (required)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *identity == "" {
		return errors.New("audit report needs --identity: who a decision is about is sealed to the auditors")
	}
	ps, err := who.resolve(a.data)
	if err != nil {
		return err
	}
	ex, from, err := a.read(ctx)
	if err != nil {
		return err
	}
	o, nc, err := a.opener(ctx, *identity)
	if err != nil {
		return err
	}
	defer nc.Close()
	recs, err := openAll(ctx, ex, o)
	if err != nil {
		return err
	}
	rep := personReport{Pseudonym: ps, Source: from, Records: len(recs), Decisions: []reportRow{}, Unreadable: unreadableOf(recs)}
	for i, s := range audit.Subjects(recs) {
		if s.Pseudonym == ps {
			rep.Decisions = append(rep.Decisions, newReportRow(recs[i], s))
		}
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(out, "Decisions about %s (%d of %d records in %s)\n\n", ps, len(rep.Decisions), rep.Records, from)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DECIDED (UTC)\tFROM\tTO\tKIND\tCATEGORY\tOUTCOME\tRULE\tBASIS\tPURPOSE\tSENT BY\tASSESSED BY\tLINK")
	for _, r := range rep.Decisions {
		rule := r.Rule
		if rule == "" {
			rule = r.ErrorCode
		}
		purpose := r.Purpose
		if r.PurposeCode != "" {
			purpose = strings.TrimSpace(purpose + " [" + r.PurposeCode + "]")
		}
		sentBy := r.SenderOfficial
		if r.SenderRole != "" {
			sentBy = strings.TrimSpace(sentBy + " (" + r.SenderRole + ")")
		}
		link := ""
		switch {
		case r.SubjectFrom != "" && r.SubjectFrom == r.ReplyTo:
			link = "reply to " + r.SubjectFrom
		case r.SubjectFrom != "":
			link = "forward of " + r.SubjectFrom
		case r.ReplyTo != "":
			link = "reply to " + r.ReplyTo
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.DecidedAt.Format("2006-01-02 15:04"), r.Sender, r.Recipient, r.Kind, dash(r.Category), r.Outcome,
			dash(rule), dash(r.Basis), dash(purpose), dash(sentBy), dash(strings.Join(r.AssessedBy, "; ")), dash(link))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeUnreadable(out, rep.Unreadable)
	return nil
}

// writeUnreadable tells the reader that some records could not be searched.
func writeUnreadable(out io.Writer, us []unreadable) {
	if len(us) == 0 {
		return
	}
	periods := map[string]bool{}
	for _, u := range us {
		periods[u.Period] = true
	}
	names := make([]string, 0, len(periods))
	for p := range periods {
		names = append(names, p)
	}
	sort.Strings(names)
	fmt.Fprintf(out, "\n%d records could not be opened (periods %s: shredded, or not sealed to this identity); they may be about this person too.\n",
		len(us), strings.Join(names, " "))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// showTable writes rows as a table; subjects is nil when the personal
// fields were not opened.
func showTable(out io.Writer, recs []audit.Opened, subjects []audit.Subject) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	head := "SEQ\tDECIDED (UTC)\tFROM\tTO\tKIND\tCATEGORY\tOUTCOME\tRULE\tBASIS"
	if subjects != nil {
		head += "\tSUBJECT\tPURPOSE"
	}
	fmt.Fprintln(tw, head)
	for i, r := range recs {
		d := &r.Entry.Decision
		rule := d.Rule
		if rule == "" {
			rule = d.ErrorCode
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", r.Seq, d.DecidedAt.UTC().Format("2006-01-02 15:04:05"),
			dash(d.Sender), dash(d.Recipient), dash(d.Kind), dash(d.Category), d.Outcome, dash(rule), dash(d.Basis))
		if subjects != nil {
			subj, purpose := subjects[i].Pseudonym, ""
			switch {
			case r.Err != nil:
				subj = "(sealed: " + r.Entry.Personal.Period + " unreadable)"
			case subjects[i].From != "":
				subj += " (via " + subjects[i].From + ")"
			}
			if r.Personal != nil {
				purpose = r.Personal.Purpose
			}
			fmt.Fprintf(tw, "\t%s\t%s", dash(subj), dash(purpose))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// showSummary writes counts by outcome, rule and agency.
func showSummary(out io.Writer, recs []audit.Opened) error {
	outcomes, rules := map[string]int{}, map[string]int{}
	type agencyCount struct{ sent, received, rejected int }
	agencies := map[string]*agencyCount{}
	count := func(id string) *agencyCount {
		if id == "" {
			id = "(unknown)"
		}
		c := agencies[id]
		if c == nil {
			c = &agencyCount{}
			agencies[id] = c
		}
		return c
	}
	for _, r := range recs {
		d := &r.Entry.Decision
		outcomes[d.Outcome]++
		rule := d.Rule
		if rule == "" && d.ErrorCode != "" {
			rule = "(" + d.ErrorCode + ")"
		} else if rule == "" {
			rule = "(no rule: denied by policy)"
		}
		rules[rule]++
		s := count(d.Sender)
		s.sent++
		if !d.Allowed() {
			s.rejected++
		}
		if d.Recipient != "" {
			count(d.Recipient).received++
		}
	}
	fmt.Fprintf(out, "%d decisions\n", len(recs))
	// One table per section, so that each aligns on its own columns.
	section := func(head string, rows func(io.Writer)) error {
		fmt.Fprintln(out)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, head)
		rows(tw)
		return tw.Flush()
	}
	counts := func(m map[string]int) func(io.Writer) {
		return func(w io.Writer) {
			for _, k := range sortedByCount(m) {
				fmt.Fprintf(w, "%s\t%d\n", k, m[k])
			}
		}
	}
	if err := section("OUTCOME\tCOUNT", counts(outcomes)); err != nil {
		return err
	}
	if err := section("RULE\tCOUNT", counts(rules)); err != nil {
		return err
	}
	return section("AGENCY\tSENT\tREJECTED\tRECEIVED", func(w io.Writer) {
		ids := make([]string, 0, len(agencies))
		for id := range agencies {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			c := agencies[id]
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", id, c.sent, c.rejected, c.received)
		}
	})
}

func sortedByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return keys
}
