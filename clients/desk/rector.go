package desk

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
)

var rector = &client{
	prog: "rektor", kind: directory.KindSchool,
	intro: `rektor: the school rector's client (rektorns klient) of the sekretessbroker.

Answer the police's requests for data (LUB 2025:170 7 §): public data such as
enrolment or class lists straight away; secret data only after you record
your interest assessment (intresseavvägning): who made it, when, the outcome
and why. Report concern for a pupil to social services, report confiscated
knives, weapons, spray paint or crime tools to the police, and tell the police
on your own initiative when a pupil is believed to be in a criminal risk
environment (LUB 7 § andra stycket).

The pupil is named by personnummer on your command line only: messages carry
a pseudonym, and the broker never learns who the pupil is.`,
	cmds: []command{
		inboxCmd("requests from the police, feedback from social services"),
		{
			name: "answer", args: "--request ID --category CATEGORY [--text DATA] [--secret --assessment disclose|withhold --reason WHY]",
			sends: true,
			help: "Answer a request from the police in your inbox. Enrolment, class lists and\n" +
				"the school catalogue are public: just answer. Anything else, or anything\n" +
				"covered by secrecy (e.g. protected personal data), needs --secret and your\n" +
				"interest assessment: --assessment disclose or withhold, and --reason. If you\n" +
				"withhold, nothing is sent (no --text needed) and your assessment is kept on\n" +
				"this computer beside the request.\n\n" + categoriesHelp,
			run: rectorAnswer,
		},
		concernCmd("The school"),
		{
			name: "confiscation", args: "--to POLICE --item knife|weapon|spray_paint|crime_tool|other [--ground WHY] --place WHERE --personnummer NR --text WHAT",
			sends: true,
			help: "Report to the police that the school took a knife, another weapon, spray\n" +
				"paint or a crime tool from a pupil (skollagen 5 kap. 23 §): a duty of the\n" +
				"rector, or of whom the rector appointed (--role rector_delegate). For\n" +
				"another object, use --item other and say with --ground why it is reported.",
			run: rectorConfiscation,
		},
		{
			name: "disclose", args: "--to POLICE --category CATEGORY --personnummer NR --purpose WHY --reason ASSESSMENT --text DATA",
			sends: true,
			help: "Tell the police on your own initiative what they need in crime fighting, e.g.\n" +
				"that a pupil is believed to be in a criminal risk environment (category\n" +
				"risk_environment; LUB 2025:170 7 § andra stycket). Only the rector may, and\n" +
				"only after an interest assessment: --reason records why nothing weighs\n" +
				"against it.\n\n" + categoriesHelp,
			run: rectorDisclose,
		},
	},
}

// Rector runs the school rector's client with the given arguments.
func Rector(ctx context.Context, args []string, out io.Writer) error {
	return rector.main(ctx, args, out)
}

func rectorAnswer(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	reqID := fs.String("request", "", "the id of the police's request (from your inbox)")
	category := fs.String("category", "", "the data you give")
	text := fs.String("text", "", "the data, as the police will read it")
	secret := fs.Bool("secret", false, "the data is covered by secrecy or tystnadsplikt")
	outcome := fs.String("assessment", "", "your interest assessment: disclose or withhold")
	reason := fs.String("reason", "", "why you came to that outcome")
	pnr := fs.String("personnummer", "", "the pupil's personnummer, if the answer is about one")
	role := fs.String("role", "rector", "your role: rector or rector_delegate")
	if err := parse(fs, args, "request", "category"); err != nil || helped(args) {
		return err
	}
	form := forms.Answer{Category: *category, Secret: *secret, Assessment: *outcome, Reason: *reason,
		Personnummer: *pnr, Role: *role, Text: *text}
	if err := form.Check(); err != nil {
		return formErr(err)
	}
	req, err := s.connectReceived(ctx, *reqID)
	if err != nil {
		return err
	}
	claims, err := form.Claims(s.official())
	if err != nil {
		return formErr(err)
	}
	if form.Withhold() {
		if err := s.box.RecordAssessment(req.ID, claims.InterestAssessment); err != nil {
			return err
		}
		fmt.Fprintf(s.out, "  Nothing sent. Your assessment to withhold (%s, %s) is recorded here; tell\n"+
			"  the police you decline, without giving the data.\n", s.name, claims.InterestAssessment.At.Format("2006-01-02 15:04"))
		return s.box.MarkHandled(req.ID)
	}
	return s.reply(ctx, req, agency.KindResponse, claims, *text)
}

func rectorConfiscation(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the police (agency id)")
	item := fs.String("item", "", "knife, weapon, spray_paint, crime_tool or other")
	ground := fs.String("ground", "", "for --item other: why the object is reported (e.g. used in a crime)")
	place := fs.String("place", "", "where it was taken")
	pnr := fs.String("personnummer", "", "the pupil's personnummer")
	text := fs.String("text", "", "what happened, as the police will read it")
	role := fs.String("role", "rector", "rector, or rector_delegate if the rector appointed you")
	if err := parse(fs, args, "to", "item", "personnummer", "text"); err != nil || helped(args) {
		return err
	}
	subj, err := s.connectSubject(ctx, *pnr)
	if err != nil {
		return err
	}
	claims := agency.Claims{Category: "confiscation", Subject: subj, SenderRole: *role,
		Confiscation: &agency.Confiscation{Item: *item, Ground: *ground, At: now(), Place: *place}}
	_, err = s.deliver(ctx, agency.Message{To: *to, Kind: agency.KindReport, Metadata: claims, Payload: []byte(*text)})
	return err
}

func rectorDisclose(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the police (agency id)")
	category := fs.String("category", "", "the data you give, e.g. risk_environment")
	pnr := fs.String("personnummer", "", "the pupil's personnummer")
	purpose := fs.String("purpose", "", "why the police need it in crime fighting")
	reason := fs.String("reason", "", "your interest assessment: why nothing weighs against telling")
	text := fs.String("text", "", "the data, as the police will read it")
	role := fs.String("role", "rector", "your role (only the rector may)")
	if err := parse(fs, args, "to", "category", "personnummer", "purpose", "text"); err != nil || helped(args) {
		return err
	}
	subj, err := s.connectSubject(ctx, *pnr)
	if err != nil {
		return err
	}
	claims := agency.Claims{Category: *category, Subject: subj, Purpose: *purpose, SenderRole: *role}
	if *reason != "" {
		if claims.InterestAssessment, err = s.judgement("disclose", *reason); err != nil {
			return err
		}
	}
	_, err = s.deliver(ctx, agency.Message{To: *to, Kind: agency.KindDisclosure, Metadata: claims, Payload: []byte(*text)})
	return err
}
