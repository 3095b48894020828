package desk

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
)

const categoriesHelp = `Data categories (--category):
  enrolment (inskrivning), class_list (klasslista), school_catalogue (skolkatalog):
      public school data
  contact_details (kontaktuppgifter): phone, e-mail, username, address
  attendance (närvaro), grades (betyg), pupil_welfare (elevvård),
  risk_environment (kriminell riskmiljö), crime_suspicion (brottsmisstanke),
  case_details (socialtjänstens ärende), preliminary_investigation (förundersökning)`

var police = &client{
	prog: "polis", kind: directory.KindPolice,
	intro: `polis: the police officer's client (polisens klient) of the sekretessbroker.

Ask a school or social services for data about a child, citing why you need
it; read their answers and any refusal with the law's reasons; report concern
for a child to social services; answer social services' requests for data
from a preliminary investigation (förundersökning).

The child is named by personnummer on your command line only: the message
carries a pseudonym, and the broker never learns who the child is.`,
	cmds: []command{
		{
			name: "request", args: "--to AGENCY --category CATEGORY --personnummer NR --purpose WHY --text QUESTION [--wait 0]",
			sends: true,
			help: "Ask a school or social services for data (begäran, LUB 2025:170). State in\n" +
				"--purpose why the police need it in crime fighting. The broker checks the\n" +
				"request at once; the answer arrives in your inbox (or wait for it with --wait 2m).\n\n" + categoriesHelp,
			run: policeRequest,
		},
		inboxCmd("answers to your requests, feedback on your reports of concern, requests from social services"),
		concernCmd("the police"),
		{
			name: "answer-fu", args: "--request ID --relevance WHY --text DATA",
			sends: true,
			help: "Answer social services' request for data from a preliminary investigation\n" +
				"(förundersökning) connected to a report of concern (SoL (2025:400) 20 kap. 6 §).\n" +
				"--relevance records your assessment of why the data can matter for\n" +
				"the child's needs assessment. The data stays under förundersökningssekretess\n" +
				"at social services: the broker refuses any attempt to pass it on.",
			run: policeAnswerFU,
		},
	},
}

// Police runs the police officer's client with the given arguments.
func Police(ctx context.Context, args []string, out io.Writer) error {
	return police.main(ctx, args, out)
}

func policeRequest(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	to := fs.String("to", "", "the school or social services you ask (agency id)")
	category := fs.String("category", "", "the data you ask for (see the list above)")
	pnr := fs.String("personnummer", "", "the child's personnummer, YYYYMMDD-NNNN")
	purpose := fs.String("purpose", "", "why the police need the data in crime fighting")
	text := fs.String("text", "", "your question, as the recipient will read it")
	wait := fs.Duration("wait", 0, "wait this long for the answer (0: see it later with inbox)")
	if err := parse(fs, args, "to", "category", "personnummer", "purpose", "text"); err != nil || helped(args) {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	m, err := forms.Request{To: *to, Category: *category, Personnummer: *pnr, Purpose: *purpose, Text: *text}.Message(s.official())
	if err != nil {
		return formErr(err)
	}
	r, err := s.deliver(ctx, m)
	if err != nil || *wait <= 0 {
		if err == nil {
			s.answerInInbox()
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	for {
		d, err := s.receive(wctx)
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintf(s.out, "  No answer yet; it will be in your inbox.\n")
			return nil
		}
		if err != nil {
			return err
		}
		if d.ReplyTo == r.MessageID {
			fmt.Fprintln(s.out, "  Answer:")
			printDelivery(s.out, d)
			return s.box.MarkHandled(d.ID)
		}
	}
}

func policeAnswerFU(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
	reqID := fs.String("request", "", "the id of social services' request (from your inbox)")
	relevance := fs.String("relevance", "", "why the data can matter for the child's needs assessment")
	text := fs.String("text", "", "the data, as social services will read it")
	if err := parse(fs, args, "request", "relevance", "text"); err != nil || helped(args) {
		return err
	}
	req, err := s.connectReceived(ctx, *reqID)
	if err != nil {
		return err
	}
	claims, err := forms.AnswerFU{Relevance: *relevance, Text: *text}.Claims(s.official())
	if err != nil {
		return formErr(err)
	}
	return s.reply(ctx, req, agency.KindResponse, claims, *text)
}

// concernCmd reports concern for a child to social services (SoL (2025:400) 19 kap. 1 §).
func concernCmd(who string) command {
	return command{
		name: "concern", args: "--to SOCIAL-SERVICES --personnummer NR --text WHAT [--feedback]",
		sends: true,
		help: "Report concern that a child is being harmed (orosanmälan) to social services.\n" +
			who + " must report on its own even if others already have; repeated reports\n" +
			"are fine. With --feedback you ask to be told whether an investigation was\n" +
			"opened (återkoppling).",
		run: func(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
			to := fs.String("to", "", "social services (agency id)")
			pnr := fs.String("personnummer", "", "the child's personnummer, YYYYMMDD-NNNN")
			text := fs.String("text", "", "what you have seen or heard, as social services will read it")
			feedback := fs.Bool("feedback", false, "ask for feedback (återkoppling)")
			role := fs.String("role", "", "your role, e.g. rector, mentor, police officer")
			if err := parse(fs, args, "to", "personnummer", "text"); err != nil || helped(args) {
				return err
			}
			if err := s.connect(ctx); err != nil {
				return err
			}
			m, err := forms.Concern{To: *to, Personnummer: *pnr, Text: *text, Feedback: *feedback, Role: *role}.Message(s.official())
			if err != nil {
				return formErr(err)
			}
			_, err = s.deliver(ctx, m)
			return err
		},
	}
}

// now is when judgements and consents recorded by a command are made.
func now() time.Time { return time.Now().UTC() }
