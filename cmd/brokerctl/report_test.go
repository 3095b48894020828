package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// auditWorld is the demo deployment with a broker running in-process and
// an auditor whose identity the audit data keys are wrapped to.
type auditWorld struct {
	data, agencies, url, auditor string
	svc                          *service.Service
	dir                          *directory.Directory
}

func newAuditWorld(t *testing.T) *auditWorld {
	t.Helper()
	root := t.TempDir()
	w := &auditWorld{data: filepath.Join(root, "data"), agencies: filepath.Join(root, "agencies")}
	if err := run([]string{"demo", "--data", w.data, "--agencies", w.agencies}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w.auditor = filepath.Join(root, "auditor.key")
	if err := os.WriteFile(w.auditor, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	recipients := filepath.Join(root, "auditors.txt")
	if err := os.WriteFile(recipients, []byte(id.Recipient().String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := ln.Addr().String()
	ln.Close()
	w.svc, err = service.Start(ctxT(t), service.Config{
		DataDir: w.data, PolicyDir: filepath.Join("..", "..", "policies"), NATSListen: listen,
		AuditorsFile: recipients, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.svc.Shutdown(context.Background()) })
	w.url = "nats://" + listen
	if w.dir, err = directory.Load(layout.Directory(w.data)); err != nil {
		t.Fatal(err)
	}
	return w
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (w *auditWorld) dial(t *testing.T, id string) *agency.Client {
	t.Helper()
	ident, err := agency.LoadIdentity(layout.AgencyHome(w.agencies, id), id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := agency.Dial(ctxT(t), agency.Config{URL: w.url, Identity: ident, Directory: w.dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ctl runs brokerctl against the world's broker and returns its output.
func (w *auditWorld) ctl(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(append(args, "--data", w.data, "--nats-url", w.url), &out); err != nil {
		t.Fatalf("brokerctl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestAuditReport follows one child through a concern report, social
// services' feedback (a reply) and a forward, neither of which names the
// child, and finds all three in the child's report, and nothing about
// another child.
func TestAuditReport(t *testing.T) {
	w := newAuditWorld(t)
	ctx := ctxT(t)
	const pnr = "20120304-2385"
	key, err := pseudonym.LoadKey(layout.PseudonymKey(w.agencies))
	if err != nil {
		t.Fatal(err)
	}
	nr, err := pseudonym.Parse(pnr)
	if err != nil {
		t.Fatal(err)
	}
	ps := key.Of(nr)
	sch, soc := w.dial(t, "rosengard-skola"), w.dial(t, "soc-malmo")

	concern, err := sch.ReportConcern(ctx, "soc-malmo", agency.Claims{
		Subject: &agency.Subject{Pseudonym: ps, BirthDate: nr.BirthDate()},
		Purpose: "orosanmälan", SenderRole: "mentor", SenderOfficial: "Lena Ek, mentor 7B", FeedbackRequested: agency.Bool(true)},
		[]byte("Eleven berättar om bråk hemma."))
	if err != nil || concern.Rule != "R-CONCERN" {
		t.Fatalf("concern report: %+v %v", concern, err)
	}
	// Another child, who must not appear in the report.
	if _, err := sch.ReportConcern(ctx, "soc-malmo", agency.Claims{
		Subject: &agency.Subject{Pseudonym: "ps-someone-else", BirthDate: "2013-05-02"}, Purpose: "orosanmälan"},
		[]byte("Annan elev.")); err != nil {
		t.Fatal(err)
	}
	got, err := soc.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got.Ack()
	if got.ID != concern.MessageID {
		t.Fatalf("social services received %s first, want %s", got.ID, concern.MessageID)
	}
	// Feedback and forward name no subject: the broker links them to the report.
	now := time.Now().UTC()
	_, err = soc.Deliver(ctx, agency.Message{To: "rosengard-skola", Kind: agency.KindFeedback, ReplyTo: got.ID,
		Metadata: agency.Claims{Category: "investigation_status", InvestigationStatus: "opened",
			FeedbackRequested: agency.Bool(true), GuardianInformed: agency.Bool(true),
			FeedbackAssessment: &agency.Judgement{By: "Handläggare Berg", At: now, Outcome: "appropriate"}},
		Payload: []byte("Utredning inledd.")})
	if err != nil {
		t.Logf("feedback refused (still a decision about the child): %v", err)
	}
	// The forward gives the child's age, which the rule needs, but no pseudonym.
	met := func(text string) agency.Condition { return agency.Condition{Met: true, Text: text} }
	fwd, err := soc.Forward(ctx, got, "polisen-syd", agency.Claims{Category: "risk_environment", Purpose: "förebygga brott",
		SenderRole: "socialsekreterare", Subject: &agency.Subject{BirthDate: nr.BirthDate()},
		Conditions1018a: &agency.Conditions1018a{By: "Handläggare Berg", At: now,
			RiskOfCrime: met("risk"), NotInappropriate: met("påverkar inte insatsen")}}, got.Payload)
	if err != nil || fwd.Rule != "R-1018A" {
		t.Fatalf("forward: %+v %v", fwd, err)
	}
	if _, err := w.svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	// JSON: flags in any order, the personnummer computed to its pseudonym here.
	var rep personReport
	out := w.ctl(t, "audit", "report", "--json", "--identity", w.auditor, "--personnummer", pnr,
		"--pseudonym-key", layout.AgencyHome(w.agencies, "soc-malmo"))
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	if rep.Pseudonym != ps || len(rep.Decisions) != 3 || strings.Contains(out, pnr) {
		t.Fatalf("report: want the three decisions about %s and no personnummer:\n%s", ps, out)
	}
	kinds := []string{rep.Decisions[0].Kind, rep.Decisions[1].Kind, rep.Decisions[2].Kind}
	if !slices.Equal(kinds, []string{"concern_report", "feedback", "disclosure"}) {
		t.Fatalf("kinds %v", kinds)
	}
	c, fb, fw := rep.Decisions[0], rep.Decisions[1], rep.Decisions[2]
	if c.Rule != "R-CONCERN" || c.Basis == "" || c.Purpose != "orosanmälan" || c.SenderRole != "mentor" || c.SenderOfficial != "Lena Ek, mentor 7B" ||
		c.Sender != "rosengard-skola" || c.Recipient != "soc-malmo" || c.Outcome != "delivered" {
		t.Fatalf("concern row %+v", c)
	}
	if fb.SubjectFrom != concern.MessageID || fb.ReplyTo != concern.MessageID ||
		!slices.Contains(fb.AssessedBy, "feedback_assessment: Handläggare Berg") {
		t.Fatalf("feedback row %+v", fb)
	}
	if fw.SubjectFrom != concern.MessageID || fw.Recipient != "polisen-syd" || fw.SenderRole != "socialsekreterare" {
		t.Fatalf("forward row %+v", fw)
	}

	// The table, with the default pseudonym key beside the data directory.
	table := w.ctl(t, "audit", "report", "--personnummer", pnr, "--identity", w.auditor)
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 6 || !strings.Contains(lines[2], "DECIDED") || !strings.Contains(lines[3], "R-CONCERN") ||
		!strings.Contains(lines[3], "Lena Ek, mentor 7B (mentor)") ||
		!strings.Contains(lines[4], "reply to "+concern.MessageID) || !strings.Contains(lines[5], "forward of "+concern.MessageID) {
		t.Fatalf("report table:\n%s", table)
	}

	// The broker sealed the link of the forward, whose reply_to is empty.
	sealed := w.ctl(t, "audit", "show", "--kind", "disclosure", "--json", "--identity", w.auditor)
	var row struct {
		Personal audit.Personal `json:"personal_fields"`
	}
	if err := json.Unmarshal([]byte(sealed), &row); err != nil || !slices.Equal(row.Personal.SubjectOf, []string{concern.MessageID}) {
		t.Fatalf("forward's sealed fields: %v\n%s", err, sealed)
	}

	// show: a table by default, filtered by subject, kind and category.
	if out := w.ctl(t, "audit", "show", "--pseudonym", ps, "--identity", w.auditor); strings.Count(out, "\n") != 4 ||
		!strings.Contains(out, "SUBJECT") || strings.Contains(out, "ps-someone-else") {
		t.Fatalf("show --pseudonym:\n%s", out)
	}
	if out := w.ctl(t, "audit", "show", "--category", "concern"); strings.Count(out, "\n") != 3 || strings.Contains(out, ps) {
		t.Fatalf("show --category concern (no identity, no subjects):\n%s", out)
	}
	if out := w.ctl(t, "audit", "show", "--kind", "feedback", "--json"); strings.Count(out, "\n") != 1 {
		t.Fatalf("show --kind feedback --json:\n%s", out)
	}
	if err := run([]string{"audit", "show", "--pseudonym", ps, "--data", w.data, "--nats-url", w.url}, &bytes.Buffer{}); err == nil {
		t.Fatal("show --pseudonym without --identity")
	}
	sum := w.ctl(t, "audit", "show", "--summary")
	for _, want := range []string{"4 decisions", "R-CONCERN", "rosengard-skola", "soc-malmo", "delivered"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("show --summary lacks %q:\n%s", want, sum)
		}
	}
}

// TestAuditVerifyWitnessState cuts the log back below what a witness
// cosigned: verify passes on the cut log alone and fails against the
// witness's state. It also checks witness cosignatures on a proof, with the
// proof's file after the flags and before them.
func TestAuditVerifyWitnessState(t *testing.T) {
	w := newAuditWorld(t)
	ctx := ctxT(t)
	sch := w.dial(t, "rosengard-skola")
	send := func(i int) *string {
		r, err := sch.ReportConcern(ctx, "soc-malmo", agency.Claims{
			Subject: &agency.Subject{Pseudonym: "ps-" + strings.Repeat("a", i), BirthDate: "2013-05-02"}, Purpose: "orosanmälan"},
			[]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return &r.DecisionID
	}
	first := send(1)
	send(2)
	if _, err := w.svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	send(3)
	if _, err := w.svc.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wkey, state, wpub := filepath.Join(dir, "w.key"), filepath.Join(dir, "w.json"), filepath.Join(dir, "w.pub")
	var pubOut bytes.Buffer
	if err := run([]string{"audit", "witness-key", "--out", wkey, "--name", "jo.se/witness"}, &pubOut); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wpub, pubOut.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	w.ctl(t, "audit", "witness", "--state", state, "--witness-key", wkey)
	if out := w.ctl(t, "audit", "verify", "--witness-state", state); !strings.Contains(out, "holds the 3 records the witness cosigned") {
		t.Fatalf("verify --witness-state:\n%s", out)
	}

	// Export, then cut to two records with only the checkpoint of two.
	export := filepath.Join(dir, "audit.jsonl")
	w.ctl(t, "audit", "export", "--out", export)
	f, err := os.Open(export)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := audit.ReadExport(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cut := &audit.Export{Records: ex.Records[:2]}
	for _, msg := range ex.Checkpoints {
		if c, err := audit.ParseCheckpointNote(msg); err == nil && c.Size <= 2 {
			cut.Checkpoints = append(cut.Checkpoints, msg)
		}
	}
	if len(cut.Checkpoints) == 0 {
		t.Fatal("no checkpoint of two records to keep")
	}
	var b bytes.Buffer
	if _, err := cut.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	cutFile := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cutFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := w.ctl(t, "audit", "verify", "--file", cutFile); !strings.Contains(out, "2 records") {
		t.Fatalf("the cut log alone:\n%s", out)
	}
	err = run([]string{"audit", "verify", "--witness-state", state, "--file", cutFile, "--data", w.data}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "cut off") {
		t.Fatalf("verify of the cut log against the witness state: %v", err)
	}

	// A proof of the first record carries the cosigned checkpoint; the
	// decision id and the proof file may stand anywhere among the flags.
	proof := filepath.Join(dir, "proof.json")
	if err := os.WriteFile(proof, []byte(w.ctl(t, "audit", "prove", "--file", export, *first)), 0o644); err != nil {
		t.Fatal(err)
	}
	pub := filepath.Join(layout.BrokerKeys(w.data), keys.AuditPublicKeyFile)
	var out bytes.Buffer
	if err := run([]string{"audit", "check-proof", "--key", pub, proof, "--witness-key", wpub}, &out); err != nil ||
		!strings.Contains(out.String(), "witness jo.se/witness cosigned this checkpoint") {
		t.Fatalf("check-proof --witness-key: %v\n%s", err, out.String())
	}
	// A witness that did not cosign: reported, and the check fails.
	_, other, err := audit.GenerateWitnessKey("imy.se/witness")
	if err != nil {
		t.Fatal(err)
	}
	opub := filepath.Join(dir, "other.pub")
	if err := os.WriteFile(opub, []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"audit", "check-proof", "--witness-key", opub, proof, "--key", pub}, &out); err == nil ||
		!strings.Contains(out.String(), "imy.se/witness did NOT cosign") {
		t.Fatalf("check-proof with a witness that did not cosign: %v\n%s", err, out.String())
	}
}

// TestAuditHelp: every audit subcommand answers -h with its own text, and
// it is not an error.
func TestAuditHelp(t *testing.T) {
	for _, sub := range []string{"verify", "export", "prove", "check-proof", "show", "report", "shred",
		"witness", "witness-key", "rotate-key"} {
		if text := commandHelp("audit " + sub); !strings.Contains(text, "brokerctl audit "+sub) {
			t.Errorf("audit %s has no help text", sub)
		}
		var help bytes.Buffer
		fs := newFlags("audit "+sub, &help)
		fs.String("data", "", "data directory")
		if err := parse(fs, []string{"--data", "x", "-h"}); !errors.Is(err, flag.ErrHelp) ||
			!strings.Contains(help.String(), "Usage: brokerctl audit "+sub) || !strings.Contains(help.String(), "-data") {
			t.Errorf("audit %s -h: %v\n%s", sub, err, help.String())
		}
		if err := run([]string{"audit", sub, "-h"}, &bytes.Buffer{}); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("brokerctl audit %s -h: %v, want flag.ErrHelp (exit 0)", sub, err)
		}
	}
}

// TestParseArgs: flags before, between and after positional arguments.
func TestParseArgs(t *testing.T) {
	fs := newFlags("x", io.Discard)
	a := fs.String("a", "", "")
	b := fs.Bool("b", false, "")
	pos, err := parseArgs(fs, []string{"one", "--a", "v", "two", "-b", "--", "--three"})
	if err != nil || *a != "v" || !*b || !slices.Equal(pos, []string{"one", "two", "--three"}) {
		t.Fatalf("parseArgs: %v %q %v %q", err, *a, *b, pos)
	}
}
