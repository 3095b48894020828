package desk_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/desk"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

var programs = map[string]struct {
	run  func(context.Context, []string, *bytes.Buffer) error
	cmds []string
}{
	"polis":        {func(ctx context.Context, a []string, b *bytes.Buffer) error { return desk.Police(ctx, a, b) }, []string{"request", "inbox", "concern", "answer-fu"}},
	"rektor":       {func(ctx context.Context, a []string, b *bytes.Buffer) error { return desk.Rector(ctx, a, b) }, []string{"inbox", "answer", "concern", "confiscation", "disclose"}},
	"socialtjanst": {func(ctx context.Context, a []string, b *bytes.Buffer) error { return desk.SocialServices(ctx, a, b) }, []string{"inbox", "feedback", "consent", "disclose", "disclose-1018a", "request-fu", "forward"}},
}

// TestHelp: each client explains itself and every command without a broker.
func TestHelp(t *testing.T) {
	for prog, p := range programs {
		var out bytes.Buffer
		if err := p.run(context.Background(), []string{"help"}, &out); err != nil {
			t.Fatalf("%s help: %v", prog, err)
		}
		for _, c := range p.cmds {
			if !strings.Contains(out.String(), prog+" "+c+" ") {
				t.Errorf("%s help does not explain %s:\n%s", prog, c, out.String())
			}
		}
		for _, c := range p.cmds {
			out.Reset()
			if err := p.run(context.Background(), []string{c, "-h"}, &out); err != nil || !strings.Contains(out.String(), "-as") {
				t.Errorf("%s %s -h: %v\n%s", prog, c, err, out.String())
			}
			// Every command that sends a message takes --basis and --all.
			sends := c != "inbox" && c != "consent"
			if got := strings.Contains(out.String(), "-basis") && strings.Contains(out.String(), "legal_basis_claimed") &&
				strings.Contains(out.String(), "-all"); got != sends {
				t.Errorf("%s %s -h: --basis and --all documented: %v, want %v\n%s", prog, c, got, sends, out.String())
			}
		}
		out.Reset()
		if err := p.run(context.Background(), []string{"fly"}, &out); !errors.Is(err, desk.ErrUsage) {
			t.Errorf("%s fly: %v", prog, err)
		}
	}
}

const (
	police = "polisen-syd"
	school = "rosengard-skola"
	social = "soc-malmo"
)

func startBroker(t *testing.T) (data, url string) {
	t.Helper()
	d := brokertest.NewDeployment(t, brokertest.Options{KeysInData: true})
	return d.Data, d.Start(t, nil).NATSURL()
}

// TestMistakes: what an official gets wrong is explained, and nothing is sent.
func TestMistakes(t *testing.T) {
	data, url := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(prog, id string, args ...string) (string, error) {
		var out bytes.Buffer
		err := programs[prog].run(ctx, append(args, "--as", id, "--name", "Anna Ek", "--data", data, "--nats-url", url), &out)
		return out.String(), err
	}

	_, err := as("polis", police, "request", "--to", school, "--category", "enrolment", "--personnummer", "20120304-2386",
		"--purpose", "utreda brott", "--text", "?")
	if !errors.Is(err, pseudonym.ErrInvalid) || !strings.Contains(err.Error(), "check digit") {
		t.Fatalf("a mistyped personnummer: %v", err)
	}
	if _, err := as("rektor", police, "inbox"); err == nil || !strings.Contains(err.Error(), "is a police") {
		t.Fatalf("the rector's client acting for the police: %v", err)
	}
	if _, err := as("polis", police, "request", "--to", school); !errors.Is(err, desk.ErrUsage) || !strings.Contains(err.Error(), "--personnummer") {
		t.Fatalf("missing flags: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "nats://" + ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	err = desk.Police(ctx, []string{"inbox", "--as", police, "--data", data, "--nats-url", dead}, &out)
	if !errors.Is(err, agency.ErrUnreachable) {
		t.Fatalf("no broker: %v", err)
	}

	// A request for secret data: the rector must assess; withholding sends nothing.
	if _, err := as("polis", police, "request", "--to", school, "--category", "contact_details", "--personnummer", "20120304-2385",
		"--purpose", "utreda brott", "--text", "Telefonnummer?"); err != nil {
		t.Fatal(err)
	}
	if _, err := as("rektor", school, "inbox"); err != nil {
		t.Fatal(err)
	}
	box, err := inbox.Open(layout.Inbox(data, school))
	if err != nil {
		t.Fatal(err)
	}
	open, err := box.Open()
	if err != nil || len(open) != 1 {
		t.Fatalf("the rector's inbox: %v, %v", open, err)
	}
	req := open[0].ID
	if _, err := as("rektor", school, "answer", "--request", req, "--category", "contact_details", "--text", "070-1"); !errors.Is(err, desk.ErrUsage) {
		t.Fatalf("answering secret data without an assessment: %v", err)
	}
	// Withholding needs no data, and the assessment is kept beside the request.
	got, err := as("rektor", school, "answer", "--request", req, "--category", "contact_details",
		"--secret", "--assessment", "withhold", "--reason", "Skyddade personuppgifter.")
	if err != nil || !strings.Contains(got, "Nothing sent") {
		t.Fatalf("withholding: %v\n%s", err, got)
	}
	kept, err := os.ReadFile(filepath.Join(layout.Inbox(data, school), "handled", req+".assessment"))
	if err != nil || !strings.Contains(string(kept), "Skyddade personuppgifter.") || !strings.Contains(string(kept), "withhold") {
		t.Fatalf("the assessment to withhold was not recorded: %s, %v", kept, err)
	}
	if open, _ := box.Open(); len(open) != 0 {
		t.Fatalf("the withheld request is still open: %v", open)
	}
	if got, err := as("polis", police, "inbox"); err != nil || !strings.Contains(got, "0 new") {
		t.Fatalf("the police received something after the rector withheld: %v\n%s", err, got)
	}

	// How many guardians must consent is stated, never assumed.
	_, err = as("socialtjanst", social, "consent", "record", "--id", "s-1", "--personnummer", "20120304-2385",
		"--categories", "case_details", "--to", school, "--purpose", "stöd", "--guardian", "mamma", "--child-required", "no", "--how", "oral")
	if !errors.Is(err, desk.ErrUsage) || !strings.Contains(err.Error(), "--guardians-needed") {
		t.Fatalf("consent without the number of guardians needed: %v", err)
	}

	// A consent for a child needs the official's maturity judgement.
	_, err = as("socialtjanst", social, "consent", "record", "--id", "s-1", "--personnummer", "20120304-2385",
		"--categories", "case_details", "--to", school, "--purpose", "stöd", "--guardian", "mamma", "--guardians-needed", "2", "--how", "oral")
	if !errors.Is(err, desk.ErrUsage) || !strings.Contains(err.Error(), "--child-required") {
		t.Fatalf("consent without the maturity judgement: %v", err)
	}
}

// TestFeedbackWithinConsent: social services tell the reporting school more
// than the status only within a consent, and only the status without one.
func TestFeedbackWithinConsent(t *testing.T) {
	data, url := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	as := func(prog, id string, args ...string) (string, error) {
		var out bytes.Buffer
		err := programs[prog].run(ctx, append(args, "--as", id, "--name", "Anna Ek", "--data", data, "--nats-url", url), &out)
		return out.String(), err
	}
	const pnr = "20120304-2385"
	if _, err := as("rektor", school, "concern", "--to", social, "--personnummer", pnr, "--text", "Oro.", "--feedback"); err != nil {
		t.Fatal(err)
	}
	if _, err := as("socialtjanst", social, "inbox"); err != nil {
		t.Fatal(err)
	}
	box, _ := inbox.Open(layout.Inbox(data, social))
	open, err := box.Open()
	if err != nil || len(open) != 1 {
		t.Fatalf("social services' inbox: %v %v", open, err)
	}
	feedback := []string{"feedback", "--report", open[0].ID, "--status", "opened", "--reason", "Bedömt lämpligt.",
		"--asked", "--guardian-informed", "--consent", "soc-malmo.s-2", "--category", "case_details",
		"--purpose", "stöd i skolan", "--personnummer", pnr, "--text", "Familjen får stöd i hemmet."}
	// With --consent the feedback relies on R-CONSENT: its reason is the
	// decisive one, and the rest are counted.
	got, err := as("socialtjanst", social, feedback...)
	if !errors.Is(err, desk.ErrRejected) || !strings.Contains(got, "    - R-CONSENT: no consent record") ||
		strings.Contains(got, "R-FEEDBACK") || !strings.Contains(got, "more reasons; --all shows them") {
		t.Fatalf("feedback beyond the status without consent: %v\n%s", err, got)
	}
	// --basis names another rule, whose reasons then come first; --all
	// prints every reason.
	got, err = as("socialtjanst", social, append(feedback, "--basis", "R-FEEDBACK", "--all")...)
	first, _, _ := strings.Cut(got[strings.Index(got, "    - "):], "\n")
	if !errors.Is(err, desk.ErrRejected) || !strings.HasPrefix(first, "    - R-FEEDBACK: ") ||
		!strings.Contains(got, "R-CONSENT: no consent record") || !strings.Contains(got, "no rule allows this message") ||
		strings.Contains(got, "--all shows them") {
		t.Fatalf("feedback with --basis R-FEEDBACK --all: %v\n%s", err, got)
	}
	if _, err := as("socialtjanst", social, append(feedback, "--basis", "1018a")...); !errors.Is(err, desk.ErrUsage) {
		t.Fatalf("--basis that is no rule id: %v", err)
	}
	if got, err := as("socialtjanst", social, "consent", "record", "--id", "s-2", "--personnummer", pnr,
		"--categories", "case_details", "--to", school, "--purpose", "stöd i skolan", "--guardian", "mamma", "--guardians-needed", "1",
		"--child-required", "no", "--how", "oral"); err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	got, err = as("socialtjanst", social, feedback...)
	if err != nil || !strings.Contains(got, "rule R-CONSENT") {
		t.Fatalf("feedback within consent: %v\n%s", err, got)
	}
	if got, err := as("rektor", school, "inbox"); err != nil || !strings.Contains(got, "Familjen får stöd i hemmet.") {
		t.Fatalf("the school's inbox: %v\n%s", err, got)
	}
}
