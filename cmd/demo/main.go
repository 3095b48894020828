// Command demo runs the three scenarios of the joint guidance of Skolverket,
// Socialstyrelsen and Polisen on local cooperation end to end: a real broker
// with embedded NATS on loopback and a temporary data directory, agencies
// enrolled from keys made in homes of their own beside it, and the
// officials' own clients (polis, rektor, socialtjanst), one command at a
// time, each printed with the broker's decision and its basis.
//
//	go run ./cmd/demo --policies ./policies
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/desk"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
)

func main() {
	policies := flag.String("policies", defaults.PolicyDir, "directory of Rego policies")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *policies); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const (
	police = "polisen-syd"
	school = "rosengard-skola"
	social = "soc-malmo"
)

// The children of the scenarios (test personnummer with valid check digits).
const (
	elin  = "20120304-2385"
	adam  = "20100615-4171"
	samir = "20110920-3388"
)

type demo struct {
	out                 io.Writer
	data, agencies, url string
}

func run(ctx context.Context, out io.Writer, policies string) error {
	root, err := os.MkdirTemp("", "sekretessbroker-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	// The broker's folder and the agencies' homes side by side, as with
	// make run: the broker never holds an agency's private key.
	data, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	if _, err := provision.Init(data); err != nil {
		return err
	}
	for _, s := range []provision.AgencySpec{
		{ID: police, Kind: directory.KindPolice, Name: "Polisen, lokalpolisområde Malmö Syd"},
		{ID: school, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Rosengårdsskolan (kommunal)"},
		{ID: social, Kind: directory.KindSocialServices, Name: "Socialtjänsten Malmö stad"},
	} {
		if _, err := provision.AddAgency(data, agencies, s); err != nil {
			return err
		}
	}
	svc, err := service.Start(ctx, service.Config{DataDir: data, PolicyDir: policies, NATSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = svc.Shutdown(sctx)
	}()
	d := &demo{out: out, data: data, agencies: agencies, url: svc.NATSURL()}
	fmt.Fprintf(out, "sekretessbroker demo: broker on %s, its data in %s, the agencies' homes in %s\n", d.url, data, agencies)
	fmt.Fprintf(out, "Agencies: %s (police), %s (municipal school), %s (social services).\n", police, school, social)
	for _, sc := range []func(context.Context) error{d.changedBehaviour, d.fight, d.criminalCircles} {
		if err := sc(ctx); err != nil {
			return err
		}
	}
	return auditSummary(ctx, out, data, svc)
}

// auditSummary verifies the audit log, read back from its stream with the
// broker's credentials, against the broker's audit key, and checks that it
// names no child.
func auditSummary(ctx context.Context, out io.Writer, data string, svc *service.Service) error {
	if _, err := svc.Audit.Checkpoint(ctx); err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	nc, js, err := service.ConnectAsBroker(data, svc.NATSURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	ex, err := audit.ReadStream(ctx, js)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	v, err := keys.LoadAuditVerifiers(filepath.Join(layout.BrokerKeys(data), keys.AuditPublicKeyFile))
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ex, v)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	var b bytes.Buffer
	if _, err := ex.WriteTo(&b); err != nil {
		return err
	}
	for _, who := range []string{elin, adam, samir, elin[:8], adam[:8], samir[:8], "Elin", "Adam", "Samir"} {
		if bytes.Contains(b.Bytes(), []byte(who)) {
			return fmt.Errorf("the audit log names a child (%s)", who)
		}
	}
	fmt.Fprintf(out, "\nAudit log (stream %s): %d decisions, tree root %.16s… verifies against the broker's signed checkpoints (%d).\n"+
		"No child's name or personnummer is in it.\n", bus.StreamAudit, rep.Records, rep.Root.String(), rep.Checkpoints)
	return nil
}

// Expected outcomes of a step.
const (
	ok       = "ok"
	rejected = "rejected"
)

var officials = map[string][]string{
	"polis":        {"--as", police, "--name", "Jonas Lind, områdespolis"},
	"rektor":       {"--as", school, "--name", "Anja Axemo, rektor"},
	"socialtjanst": {"--as", social, "--name", "Malin Ellström, socialsekreterare"},
}

// step runs one command of an official's client, prints it and its output,
// and checks that the broker decided as the law says it should.
func (d *demo) step(ctx context.Context, want, prog string, args ...string) error {
	fmt.Fprintf(d.out, "\n$ %s %s\n", prog, quote(args))
	id := officials[prog][1] // after --as
	full := append(append(append([]string{}, args...), officials[prog]...),
		"--keys", layout.AgencyHome(d.agencies, id), "--directory", layout.Directory(d.data), "--nats-url", d.url)
	var err error
	switch prog {
	case "polis":
		err = desk.Police(ctx, full, d.out)
	case "rektor":
		err = desk.Rector(ctx, full, d.out)
	case "socialtjanst":
		err = desk.SocialServices(ctx, full, d.out)
	}
	switch {
	case want == ok && err == nil, want == rejected && errors.Is(err, desk.ErrRejected):
		return nil
	case err == nil:
		return fmt.Errorf("%s %s: delivered, but the law does not allow it", prog, args[0])
	default:
		return fmt.Errorf("%s %s: %w", prog, args[0], err)
	}
}

func quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// latest returns the id of the newest open message of the given kind in an
// agency's inbox: what the official reads off the inbox listing.
func (d *demo) latest(id, kind string) (string, error) {
	b, err := inbox.Open(layout.HomeInbox(layout.AgencyHome(d.agencies, id)))
	if err != nil {
		return "", err
	}
	open, err := b.Open()
	if err != nil {
		return "", err
	}
	read, err := b.Handled()
	if err != nil {
		return "", err
	}
	for _, ds := range [][]*agency.Delivery{open, read} {
		for i := len(ds) - 1; i >= 0; i-- {
			if ds[i].Kind == kind {
				return ds[i].ID, nil
			}
		}
	}
	return "", fmt.Errorf("no open %s in %s's inbox", kind, id)
}

func heading(out io.Writer, title, text string) {
	fmt.Fprintf(out, "\n%s\n%s\n%s\n", title, strings.Repeat("=", len([]rune(title))), text)
}

// changedBehaviour is scenario 1: a child shows changed behaviour at school.
// Social services answer the school's concern with the status only, and
// share more only with the guardians' and the child's consent, until it is
// withdrawn.
func (d *demo) changedBehaviour(ctx context.Context) error {
	heading(d.out, "Scenario 1. Ett barn visar förändrat beteende i skolan",
		"Elin, 14, withdraws and tells her mentor about trouble at home. The school reports\n"+
			"concern; social services may say only whether they opened an investigation, and\n"+
			"share more only with consent (\"Det bryter sekretessen\").")
	consent := "soc-malmo.samtycke-2026-017"
	disclose := []string{"disclose", "--to", school, "--consent", consent, "--category", "case_details",
		"--personnummer", elin, "--purpose", "samordnat stöd i skolan",
		"--text", "Familjen har fått stöd av familjebehandlare; Elin behöver en trygg vuxen i skolan."}
	if err := d.step(ctx, ok, "rektor", "concern", "--to", social, "--personnummer", elin, "--role", "mentor", "--feedback",
		"--text", "Elin har dragit sig undan sedan i höstas och berättar om bråk hemma."); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", "inbox"); err != nil {
		return err
	}
	report, err := d.latest(social, "concern_report")
	if err != nil {
		return err
	}
	feedback := []string{"feedback", "--report", report, "--status", "opened", "--asked",
		"--reason", "Skolan bad om återkoppling och den stör inte utredningen."}
	fmt.Fprintln(d.out, "\n# The guardians have not yet been told that an investigation was opened (Q9):")
	if err := d.step(ctx, rejected, "socialtjanst", feedback...); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", append(feedback, "--guardian-informed")...); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n# More than the status needs consent; none is recorded yet:")
	if err := d.step(ctx, rejected, "socialtjanst", disclose...); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n# At a meeting both guardians and Elin consent, in writing:")
	if err := d.step(ctx, ok, "socialtjanst", "consent", "record", "--id", "samtycke-2026-017", "--personnummer", elin,
		"--categories", "case_details", "--to", school, "--purpose", "samordnat stöd i skolan",
		"--guardian", "mamma", "--guardian", "pappa", "--guardians-needed", "2", "--child", "--child-required", "yes", "--how", "written",
		"--valid-until", time.Now().AddDate(0, 6, 0).Format(time.DateOnly)); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", disclose...); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "inbox"); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n# Elin's father calls and withdraws the consent (Q18):")
	if err := d.step(ctx, ok, "socialtjanst", "consent", "withdraw", "--ref", consent); err != nil {
		return err
	}
	return d.step(ctx, rejected, "socialtjanst", disclose...)
}

// fight is scenario 2: some youths were in a fight in their leisure time.
// The police ask the school what it may give, report concern, and social
// services get data from the preliminary investigation, which must not go
// further.
func (d *demo) fight(ctx context.Context) error {
	heading(d.out, "Scenario 2. Några ungdomar har varit inblandade i slagsmål på fritiden",
		"Adam, 16, was in a fight on a Saturday. The police ask the school (LUB 2025:170),\n"+
			"report concern, and social services ask for the preliminary investigation.")
	purpose := "utreda misshandel vid Folkets park den 14 november"
	if err := d.step(ctx, ok, "polis", "request", "--to", school, "--category", "enrolment", "--personnummer", adam,
		"--purpose", purpose, "--text", "Går Adam Nilsson (20100615-4171) på er skola, och i vilken klass?"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "inbox"); err != nil {
		return err
	}
	req, err := d.latest(school, "request")
	if err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "answer", "--request", req, "--category", "enrolment", "--text", "Ja, klass 9C."); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n# Elevhälsans journal is not covered by LUB; it stays secret without consent:")
	if err := d.step(ctx, rejected, "polis", "request", "--to", school, "--category", "health", "--personnummer", adam,
		"--purpose", purpose, "--text", "Har skolsköterskan noterat skador på Adam?"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "polis", "request", "--to", school, "--category", "contact_details", "--personnummer", adam,
		"--purpose", purpose, "--text", "Vilka telefonnummer har Adams vårdnadshavare?"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "inbox"); err != nil {
		return err
	}
	if req, err = d.latest(school, "request"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "answer", "--request", req, "--category", "contact_details", "--secret",
		"--assessment", "disclose", "--reason", "Inga skyddade personuppgifter; inga synnerliga skäl talar emot.",
		"--text", "Mamma 070-123 45 67, pappa 070-765 43 21."); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "polis", "inbox"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "polis", "concern", "--to", social, "--personnummer", adam, "--role", "police officer",
		"--text", "Adam, 16, misstänks för misshandel; han verkar ha äldre kamrater i ett gäng."); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", "request-fu", "--to", police, "--personnummer", adam,
		"--purpose", "bedöma Adams behov av stöd och skydd",
		"--text", "Vi har fått er orosanmälan. Vad framgår av förundersökningen om Adams roll?"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "polis", "inbox"); err != nil {
		return err
	}
	if req, err = d.latest(police, "request"); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "polis", "answer-fu", "--request", req,
		"--relevance", "Uppgifterna visar att Adam riskerar att dras in i gängets brott.",
		"--text", "Adam höll i offret medan två äldre slog; han säger att han blev tvingad."); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", "inbox"); err != nil {
		return err
	}
	fu, err := d.latest(social, "response")
	if err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\n# Social services would like the school to know; förundersökningssekretess travels with the data:")
	return d.step(ctx, rejected, "socialtjanst", "forward", "--message", fu, "--to", school, "--personnummer", adam,
		"--purpose", "samordnat stöd i skolan")
}

// criminalCircles is scenario 3: a child has begun to move in criminal
// circles. The rector tells the police on the rector's own initiative,
// reports a knife, and social services disclose under OSL 10 kap. 18 a §.
func (d *demo) criminalCircles(ctx context.Context) error {
	heading(d.out, "Scenario 3. Ett barn har börjat röra sig i kriminella kretsar",
		"Samir, 15, is seen with older youths known to the police and brings a knife to school.")
	own := []string{"disclose", "--to", police, "--category", "risk_environment", "--personnummer", samir,
		"--purpose", "förebygga att Samir dras in i brott",
		"--text", "Samir ses dagligen efter skolan med äldre ungdomar vid centrum och har slutat komma till lektionerna."}
	fmt.Fprintln(d.out, "\n# The rector first sends it without recording an interest assessment:")
	if err := d.step(ctx, rejected, "rektor", own...); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", append(own, "--reason", "Risken för Samir väger tyngre än intresset av sekretess; inget talar emot.")...); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "rektor", "confiscation", "--to", police, "--item", "knife", "--place", "skolgården",
		"--personnummer", samir, "--text", "En kniv med 12 cm blad togs från Samir på rasten kl. 10.15."); err != nil {
		return err
	}
	c1018a := []string{"disclose-1018a", "--to", police, "--category", "risk_environment", "--personnummer", samir,
		"--risk", "Samir umgås med personer i ett kriminellt nätverk och bär kniv.",
		"--text", "Socialtjänsten har ett pågående ärende; Samir har setts med nätverket vid centrum."}
	fmt.Fprintln(d.out, "\n# Social services document only one of the two conditions of 10 kap. 18 a § (two since 2025-04-01, SFS 2025:179):")
	if err := d.step(ctx, rejected, "socialtjanst", c1018a...); err != nil {
		return err
	}
	if err := d.step(ctx, ok, "socialtjanst", append(c1018a, "--not-inappropriate", "Insatserna planeras tillsammans med polisen; inget talar emot.")...); err != nil {
		return err
	}
	return d.step(ctx, ok, "polis", "inbox")
}
