package desk

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
)

var social = &client{
	prog: "socialtjanst", kind: directory.KindSocialServices,
	intro: `socialtjanst: social services' gateway (socialtjänstens klient) to the sekretessbroker.

Receive reports of concern (orosanmälningar) and tell the reporter whether an
investigation was opened — the status only, unless there is consent. Record
consents (samtycken) exactly: who gave them, for which data, to whom, for what
purpose and for how long; withdraw them when the guardian or young person
says so, which takes effect for every message from then on. Disclose to the
police under OSL 10 kap. 18 a § with its conditions documented, and ask
the police for data from a preliminary investigation (förundersökning).

The child is named by personnummer on your command line only: messages and
consents carry a pseudonym, and the broker never learns who the child is.`,
	cmds: []command{
		inboxCmd("reports of concern, answers from the police"),
		{
			name: "feedback", args: "--report ID --status opened|not_opened|ongoing --reason WHY [--asked] [--guardian-informed] [--consent REF --category C --purpose P --personnummer NR --text T]",
			sends: true,
			help: "Tell the reporter of a concern in your inbox whether an investigation was\n" +
				"opened, not opened or is already ongoing (återkoppling, SoL (2025:400) 19 kap. 6 §).\n" +
				"Only the status is sent. --asked: the reporter asked for feedback;\n" +
				"--guardian-informed: the guardian has been told (until then feedback is\n" +
				"inappropriate); --reason: why feedback is appropriate now.\n" +
				"More than the status only within a consent: --consent, the data's --category,\n" +
				"the --purpose consented to, the child's --personnummer and the --text.",
			run: socialFeedback,
		},
		{
			name: "consent", args: "record|show|withdraw ...",
			help: "consent record --id ID --personnummer NR --categories A,B --to AGENCY,... --purpose WHY\n" +
				"               --guardian WHO [--guardian WHO] --guardians-needed 1|2 [--child] [--person]\n" +
				"               --child-required yes|no\n" +
				"               --how written|oral|digital [--valid-until YYYY-MM-DD]\n" +
				"    Record a consent (samtycke) you collected. It must name the data, the\n" +
				"    recipients and the purpose: a general waiver is not a consent. For a child\n" +
				"    under 18 each guardian consents (--guardian mamma --guardian pappa: who, but\n" +
				"    no names, the registry holds none; --guardians-needed: how many have custody\n" +
				"    and must consent, usually 2), and the\n" +
				"    child too when age and maturity require it (your judgement: --child-required).\n" +
				"    From 18 the person consents alone (--person). An oral consent counts once\n" +
				"    you document it (--how oral). Prints the reference (--consent) to cite.\n" +
				"consent show --ref REF\n" +
				"consent withdraw --ref REF\n" +
				"    The consent no longer covers any message from now on (återkallat).",
			run: socialConsent,
		},
		{
			name: "disclose", args: "--to AGENCY --consent REF --category CATEGORY --personnummer NR --purpose WHY --text DATA",
			sends: true,
			help: "Disclose data within a consent (OSL 12 kap. 2-3 §§). The purpose must be the\n" +
				"one consented to; the broker reads the consent itself from the registry.",
			run: socialDisclose,
		},
		{
			name: "disclose-1018a", args: "--to POLICE --category CATEGORY --personnummer NR --risk WHY --not-inappropriate WHY [--prevents WHY] --text DATA",
			sends: true,
			help: "Give the police data about a young person under 21 to prevent crime\n" +
				"(OSL 10 kap. 18 a §). Document its two conditions (Lag 2025:179, from 2025-04-01):\n" +
				"  --risk               concrete circumstances show a risk the young person will engage in crime\n" +
				"  --not-inappropriate  why it is not inappropriate given planned or ongoing interventions\n" +
				"  --prevents           the data can be assumed to help prevent it (a third condition\n" +
				"                       until 2025-03-31; give it for a message dated before then)\n" +
				"Not for suspicion of a crime already committed (that is OSL 10 kap. 20-23 §§).",
			run: socialDisclose1018a,
		},
		{
			name: "request-fu", args: "--to POLICE --personnummer NR --purpose WHY --text QUESTION",
			sends: true,
			help: "Ask the police for data from a preliminary investigation (förundersökning)\n" +
				"connected to a report of concern, for the child's needs assessment. The answer\n" +
				"stays under förundersökningssekretess: it must not be passed on.",
			run: socialRequestFU,
		},
		{
			name: "forward", args: "--message ID --to AGENCY --purpose WHY [--consent REF] [--personnummer NR]",
			sends: true,
			help: "Pass data you received on to another agency. The broker applies the\n" +
				"obligations it came with: data from a preliminary investigation is refused.",
			run: socialForward,
		},
	},
}

// SocialServices runs social services' gateway with the given arguments.
func SocialServices(ctx context.Context, args []string, out io.Writer) error {
	return social.main(ctx, args, out)
}

func socialFeedback(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	reportID := fs.String("report", "", "the id of the report of concern (from your inbox)")
	status := fs.String("status", "", "opened, not_opened or ongoing")
	reason := fs.String("reason", "", "why feedback is appropriate now")
	asked := fs.Bool("asked", false, "the reporter asked for feedback")
	informed := fs.Bool("guardian-informed", false, "the guardian has been told")
	ref := fs.String("consent", "", "a consent covering more than the status (optional)")
	category := fs.String("category", "", "with --consent: the data you give")
	purpose := fs.String("purpose", "", "with --consent: the purpose consented to")
	more := fs.String("text", "", "with --consent: the data, as the reporter will read it")
	pnr := fs.String("personnummer", "", "with --consent: whom the data is about")
	if err := parse(fs, args, "report", "status", "reason"); err != nil || helped(args) {
		return err
	}
	form := forms.Feedback{Status: *status, Reason: *reason, Asked: *asked, GuardianInformed: *informed,
		ConsentRef: *ref, Category: *category, Purpose: *purpose, Personnummer: *pnr, Text: *more}
	rep, err := s.connectReceived(ctx, *reportID)
	if err != nil {
		return err
	}
	claims, text, err := form.Claims(s.official())
	if err != nil {
		return formErr(err)
	}
	return s.reply(ctx, rep, agency.KindFeedback, claims, text)
}

func socialConsent(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	if len(args) == 0 || (args[0] != "record" && args[0] != "show" && args[0] != "withdraw") {
		fs.Usage()
		if helped(args) {
			return nil
		}
		return fmt.Errorf("consent needs record, show or withdraw: %w", ErrUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "show", "withdraw":
		ref := fs.String("ref", "", "the consent's reference, e.g. soc-malmo.samtycke-17")
		if err := parse(fs, args, "ref"); err != nil || helped(args) {
			return err
		}
		if err := s.connect(ctx); err != nil {
			return err
		}
		var r *consent.Record
		var err error
		if sub == "show" {
			r, err = s.cl.Consent(ctx, *ref)
		} else {
			r, err = s.cl.WithdrawConsent(ctx, *ref, time.Time{})
		}
		if err != nil {
			return err
		}
		printConsent(s.out, r)
		return nil
	}
	id := fs.String("id", "", "your id for the consent, e.g. samtycke-2026-017 (a case number, never a name)")
	pnr := fs.String("personnummer", "", "whom the consent is about, YYYYMMDD-NNNN")
	var categories, to, guardians listFlag
	fs.Var(&categories, "categories", "the data consented to, comma-separated (e.g. case_details,pupil_welfare)")
	fs.Var(&to, "to", "the agencies the data may go to, comma-separated")
	fs.Var(&guardians, "guardian", "a guardian who consented, e.g. mamma (repeat for each; no names)")
	purpose := fs.String("purpose", "", "what the data may be used for")
	child := fs.Bool("child", false, "the child consented too")
	person := fs.Bool("person", false, "the person (18 or older) consented")
	childRequired := fs.String("child-required", "", "yes or no: your judgement whether the child's age and maturity require the child's own consent")
	how := fs.String("how", "", "how the consent was given and documented: written, oral or digital")
	until := fs.String("valid-until", "", "last day the consent is valid, YYYY-MM-DD")
	guardianCount := fs.Int("guardians-needed", 0, "how many guardians have custody and must consent (usually 2)")
	if err := parse(fs, args, "id", "personnummer", "purpose", "how"); err != nil || helped(args) {
		return err
	}
	if s.key == nil {
		if err := s.loadKey(); err != nil {
			return err
		}
	}
	r, err := forms.Consent{ID: *id, Personnummer: *pnr, Categories: categories, Recipients: to, Purpose: *purpose,
		Guardians: guardians, GuardiansNeeded: *guardianCount, Child: *child, Person: *person,
		ChildRequired: *childRequired, How: *how, ValidUntil: *until}.Record(s.official())
	if err != nil {
		return formErr(err)
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	ref, err := s.cl.RecordConsent(ctx, r)
	if err != nil {
		return err
	}
	r.ID = ref
	printConsent(s.out, &r)
	fmt.Fprintf(s.out, "  Cite it with --consent %s\n", ref)
	return nil
}

func printConsent(out io.Writer, r *consent.Record) {
	fmt.Fprintf(out, "  consent %s about %s (born %s)\n", r.ID, r.Subject.Pseudonym, r.Subject.BirthDate)
	fmt.Fprintf(out, "    data %v to %v, purpose %q\n", r.Categories, r.Recipients, r.Purpose)
	for _, g := range r.GivenBy {
		fmt.Fprintf(out, "    given by %s %s at %s\n", g.Role, g.By, g.At.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(out, "    documented %s by %s; valid from %s", r.Documented.How, r.Documented.By, r.ValidFrom.Local().Format("2006-01-02 15:04"))
	if r.ValidUntil != nil {
		fmt.Fprintf(out, " until %s", r.ValidUntil.Local().Format("2006-01-02"))
	}
	fmt.Fprintln(out)
	if r.WithdrawnAt != nil {
		fmt.Fprintf(out, "    WITHDRAWN (återkallat) at %s: it covers no message from then on\n", r.WithdrawnAt.Local().Format("2006-01-02 15:04:05"))
	}
}

func socialDisclose(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the recipient (agency id)")
	ref := fs.String("consent", "", "the consent's reference")
	category := fs.String("category", "", "the data you give")
	pnr := fs.String("personnummer", "", "whom the data is about")
	purpose := fs.String("purpose", "", "the purpose, exactly as consented to")
	text := fs.String("text", "", "the data, as the recipient will read it")
	if err := parse(fs, args, "to", "consent", "category", "personnummer", "purpose", "text"); err != nil || helped(args) {
		return err
	}
	subj, err := s.connectSubject(ctx, *pnr)
	if err != nil {
		return err
	}
	claims := agency.Claims{Category: *category, Subject: subj, Purpose: *purpose, ConsentRef: *ref}
	_, err = s.deliver(ctx, agency.Message{To: *to, Kind: agency.KindDisclosure, Metadata: claims, Payload: []byte(*text)})
	return err
}

func socialDisclose1018a(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the police (agency id)")
	category := fs.String("category", "", "the data you give, e.g. risk_environment or case_details")
	pnr := fs.String("personnummer", "", "the young person's personnummer")
	risk := fs.String("risk", "", "condition 1: the special circumstances showing a risk of criminal activity")
	prevents := fs.String("prevents", "", "condition 2: why the data can help prevent it")
	notInappropriate := fs.String("not-inappropriate", "", "condition 3: why it is not inappropriate given interventions")
	text := fs.String("text", "", "the data, as the police will read it")
	if err := parse(fs, args, "to", "category", "personnummer", "text"); err != nil || helped(args) {
		return err
	}
	if s.name == "" {
		return fmt.Errorf("say who assessed the conditions with --name: %w", ErrUsage)
	}
	subj, err := s.connectSubject(ctx, *pnr)
	if err != nil {
		return err
	}
	cond := func(text string) agency.Condition { return agency.Condition{Met: text != "", Text: text} }
	c := &agency.Conditions1018a{By: s.name, At: now(), RiskOfCrime: cond(*risk), NotInappropriate: cond(*notInappropriate)}
	if *prevents != "" {
		p := cond(*prevents)
		c.HelpsPrevent = &p
	}
	claims := agency.Claims{Category: *category, Subject: subj, Purpose: "förebygga brott (OSL 10 kap. 18 a §)",
		Conditions1018a: c}
	_, err = s.deliver(ctx, agency.Message{To: *to, Kind: agency.KindDisclosure, Metadata: claims, Payload: []byte(*text)})
	return err
}

func socialRequestFU(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the police (agency id)")
	pnr := fs.String("personnummer", "", "the child's personnummer")
	purpose := fs.String("purpose", "", "why the data matters for the child's needs assessment")
	text := fs.String("text", "", "your question, as the police will read it")
	if err := parse(fs, args, "to", "personnummer", "purpose", "text"); err != nil || helped(args) {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	m, err := forms.RequestFU{To: *to, Personnummer: *pnr, Purpose: *purpose, Text: *text}.Message(s.official())
	if err != nil {
		return formErr(err)
	}
	_, err = s.deliver(ctx, m)
	if err == nil {
		s.answerInInbox()
	}
	return err
}

func socialForward(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	id := fs.String("message", "", "the id of the message whose data you pass on")
	to := fs.String("to", "", "the recipient (agency id)")
	purpose := fs.String("purpose", "", "why you pass it on")
	ref := fs.String("consent", "", "a consent that covers passing it on, if any")
	pnr := fs.String("personnummer", "", "whom the data is about")
	if err := parse(fs, args, "message", "to", "purpose"); err != nil || helped(args) {
		return err
	}
	d, err := s.connectReceived(ctx, *id)
	if err != nil {
		return err
	}
	if !d.MayForward() {
		fmt.Fprintf(s.out, "  Note: %s came with %q; the broker will refuse to pass it on.\n", d.ID, agency.ObligationDoNotForward)
	}
	claims, err := forms.Forward{To: *to, Purpose: *purpose, ConsentRef: *ref, Personnummer: *pnr}.Claims(s.official(), d)
	if err != nil {
		return formErr(err)
	}
	_, err = s.deliver(ctx, agency.Message{To: *to, Kind: agency.KindDisclosure, Metadata: claims, Payload: d.Payload})
	return err
}
