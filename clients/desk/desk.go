// Package desk holds the terminal clients of the officials: the police
// officer (cmd/polis), the school's rector (cmd/rektor) and social services
// (cmd/socialtjanst). Each command does one step of an exchange the law
// allows, asks for exactly what the law requires to be documented, and
// prints the broker's decision with its basis, or the decisive reasons it
// refused (--basis RULE names the rule relied on, --all prints every reason).
//
// Children are named by personnummer on the command line only: messages
// carry the keyed pseudonym (package pseudonym), the personnummer itself
// goes, if at all, in the encrypted text.
package desk

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
	"github.com/sekretessbroker/sekretessbroker/clients/forms"
	"github.com/sekretessbroker/sekretessbroker/clients/inbox"
	"github.com/sekretessbroker/sekretessbroker/clients/pseudonym"
)

// ErrRejected is returned by a command whose message the broker rejected;
// the reasons have been printed.
var ErrRejected = errors.New("the broker rejected the message; the reasons are listed above")

// ErrUsage is returned for a command line that cannot be run; the help has
// been printed.
var ErrUsage = errors.New("see the help above")

// command is one subcommand of a client.
type command struct {
	name, args, help string
	// sends: the command sends a message, so it takes --basis and --all.
	sends bool
	run   func(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error
}

// client is one official's program.
type client struct {
	prog, intro string
	kind        string // the directory kind the program acts for
	cmds        []command
}

// session is what a command acts with: the official and the agency's keys.
type session struct {
	prog           string // the program's name, for the commands it suggests
	out            io.Writer
	data, url, as  string
	home, dir      string // --keys and --directory; see keys and directory
	tlsCA          string // with TLS: the CA file, and the client certificate and key
	tlsCert        string
	tlsKey         string
	name           string
	kind           string
	cl             *agency.Client
	box            *inbox.Box
	key            *pseudonym.Key
	connectTimeout time.Duration
	receiptTimeout time.Duration
	basis          string // --basis: claims.legal_basis_claimed of what the command sends
	all            bool   // --all: print every reason of a refusal
}

func (c *client) usage(out io.Writer) {
	fmt.Fprintf(out, "%s\n\nCommands:\n", c.intro)
	for _, cmd := range c.cmds {
		fmt.Fprintf(out, "  %s %s %s\n      %s\n", c.prog, cmd.name, cmd.args, strings.ReplaceAll(cmd.help, "\n", "\n      "))
	}
	fmt.Fprintf(out, `
Every command also takes:
  --as ID         your agency's id in the directory (e.g. %s)
  --name NAME     your name and title; it is recorded as who made each assessment
  --keys DIR      your agency's home: its keys, its copy of the pseudonym key and
                  its inbox (brokerctl demo makes ./agencies/ID; default
                  <data>/agencies/ID, the older layout)
  --directory FILE  the agency directory (default <data>/directory.yaml)
  --data DIR      where the defaults of --keys and --directory are (default ./data)
  --nats-url URL  the broker (default nats://127.0.0.1:4222)
  --tls-ca FILE   the CA of the broker's certificate, when it requires TLS; your
                  certificate (--tls-cert, --tls-key) is found with your keys

Run "%s COMMAND -h" for the details of one command.
`, exampleID(c.kind), c.prog)
}

func exampleID(kind string) string {
	switch kind {
	case directory.KindPolice:
		return "polisen-syd"
	case directory.KindSchool:
		return "rosengard-skola"
	}
	return "soc-malmo"
}

func (c *client) main(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		c.usage(out)
		return nil
	}
	for _, cmd := range c.cmds {
		if cmd.name != args[0] {
			continue
		}
		fs := flag.NewFlagSet(c.prog+" "+cmd.name, flag.ContinueOnError)
		fs.SetOutput(out)
		s := &session{prog: c.prog, out: out, kind: c.kind, connectTimeout: 10 * time.Second, receiptTimeout: 30 * time.Second}
		fs.StringVar(&s.as, "as", "", "your agency's id")
		fs.StringVar(&s.name, "name", "", "your name and title (recorded with each assessment)")
		fs.StringVar(&s.data, "data", defaults.DataDir, "data directory: where the defaults of --keys and --directory are")
		fs.StringVar(&s.home, "keys", "", "your agency's home: keys, pseudonym key and inbox (default <data>/agencies/<id>)")
		fs.StringVar(&s.dir, "directory", "", "the agency directory (default <data>/directory.yaml)")
		fs.StringVar(&s.url, "nats-url", defaults.NATSURL, "the broker's NATS URL")
		fs.StringVar(&s.tlsCA, "tls-ca", "", "CA file of the broker's TLS certificate, when it requires TLS")
		fs.StringVar(&s.tlsCert, "tls-cert", "", "your agency's TLS client certificate (default with --tls-ca: "+tlsca.ClientCertFile+" beside your keys, if present)")
		fs.StringVar(&s.tlsKey, "tls-key", "", "key of --tls-cert")
		if cmd.sends {
			fs.StringVar(&s.basis, "basis", "", agency.BasisHelp)
			fs.BoolVar(&s.all, "all", false, agency.AllHelp)
		}
		fs.Usage = func() {
			fmt.Fprintf(out, "%s %s %s\n\n%s\n\n", c.prog, cmd.name, cmd.args, cmd.help)
			fs.PrintDefaults()
		}
		defer func() {
			if s.cl != nil {
				s.cl.Close()
			}
		}()
		return cmd.run(ctx, s, fs, args[1:])
	}
	c.usage(out)
	return fmt.Errorf("%s: unknown command %q: %w", c.prog, args[0], ErrUsage)
}

// parse parses the flags and checks the required ones.
func parse(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (put text in quotes): %w", fs.Arg(0), ErrUsage)
	}
	var missing []string
	for _, name := range append([]string{"as"}, required...) {
		if f := fs.Lookup(name); f != nil && f.Value.String() == "" {
			missing = append(missing, "--"+name)
		}
	}
	if len(missing) > 0 {
		fs.Usage()
		return fmt.Errorf("%s: missing %s: %w", fs.Name(), strings.Join(missing, ", "), ErrUsage)
	}
	return nil
}

// helped reports whether the user asked for help, which parse has printed.
func helped(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

// keys returns the agency's home: --keys, or the older layout's folder in
// the data directory.
func (s *session) keys() string {
	if s.home != "" {
		return s.home
	}
	return layout.AgencyKeys(s.data, s.as)
}

// directory returns the directory file: --directory, or the data
// directory's.
func (s *session) directory() string {
	if s.dir != "" {
		return s.dir
	}
	return layout.Directory(s.data)
}

// noHome adds advice to err when the agency's keys are missing from the
// default home.
func (s *session) noHome(err error) error {
	if s.home == "" && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w; give your agency's home with --keys (brokerctl demo puts it in %s)", err,
			layout.AgencyHome(layout.AgencyHomes(s.data), s.as))
	}
	return err
}

// connect loads the agency's keys and connects to the broker.
func (s *session) connect(ctx context.Context) error {
	d, err := directory.Load(s.directory())
	if err != nil {
		return fmt.Errorf("the agency directory: %w", err)
	}
	self, ok := d.Lookup(s.as)
	if !ok {
		return fmt.Errorf("agency %q is not in the directory %s", s.as, s.directory())
	}
	if self.Kind != s.kind {
		return fmt.Errorf("agency %q is a %s, and this program is for %s", s.as, self.Kind, s.kind)
	}
	keys := s.keys()
	id, err := agency.LoadIdentity(keys, s.as)
	if err != nil {
		return s.noHome(err)
	}
	if err := s.loadKey(); err != nil {
		return err
	}
	if s.box, err = inbox.Open(layout.HomeInbox(keys)); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.connectTimeout)
	defer cancel()
	cfg := agency.Config{URL: s.url, Identity: id, Directory: d, TLSCA: s.tlsCA, TLSCert: s.tlsCert, TLSKey: s.tlsKey}
	if cfg.TLSCA != "" && cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cert := filepath.Join(keys, tlsca.ClientCertFile); fileExists(cert) {
			cfg.TLSCert, cfg.TLSKey = cert, filepath.Join(keys, tlsca.ClientKeyFile)
		}
	}
	if s.cl, err = agency.Dial(cctx, cfg); err != nil {
		return err
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (s *session) loadKey() error {
	k, err := pseudonym.LoadKey(filepath.Join(s.keys(), pseudonym.KeyFile))
	if err != nil {
		return s.noHome(err)
	}
	s.key = k
	return nil
}

// connectSubject connects to the broker and turns the personnummer pnr into
// the pseudonymous subject of a message.
func (s *session) connectSubject(ctx context.Context, pnr string) (*agency.Subject, error) {
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s.subject(pnr)
}

// connectReceived connects to the broker and gets message id, to answer or
// pass on, from the local inbox.
func (s *session) connectReceived(ctx context.Context, id string) (*agency.Delivery, error) {
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	d, err := s.box.Get(id)
	if err != nil {
		return nil, fmt.Errorf("%w (run %s inbox first)", err, s.prog)
	}
	return d, nil
}

// official is who acts in this session, for the forms.
func (s *session) official() forms.Official {
	return forms.Official{Name: s.name, Key: s.key}
}

// formErr turns a form's FieldError into a usage error naming the flag.
func formErr(err error) error {
	if fe, ok := forms.AsFieldError(err); ok {
		return fmt.Errorf("--%s: %w: %w", fe.Field, fe, ErrUsage)
	}
	return err
}

// subject turns a personnummer into the pseudonymous subject of a message.
func (s *session) subject(pnr string) (*agency.Subject, error) {
	subj, err := s.official().Subject(pnr)
	return subj, formErr(err)
}

// judgement records an assessment made now by the official.
func (s *session) judgement(outcome, reason string) (*agency.Judgement, error) {
	j, err := s.official().Judgement(outcome, reason)
	return j, formErr(err)
}

// deliver sends m, waits for the receipt and prints it.
func (s *session) deliver(ctx context.Context, m agency.Message) (*decision.Record, error) {
	if s.basis != "" {
		if err := agency.CheckBasis(s.basis); err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrUsage)
		}
		c, ok := m.Metadata.(agency.Claims)
		if !ok {
			return nil, fmt.Errorf("internal: %T carries no claims for --basis", m.Metadata)
		}
		c.LegalBasisClaimed = s.basis
		m.Metadata = c
	}
	ctx, cancel := context.WithTimeout(ctx, s.receiptTimeout)
	defer cancel()
	// Who sent it, sealed in the audit log with the purpose.
	if c, ok := m.Metadata.(agency.Claims); ok && c.SenderOfficial == "" {
		c.SenderOfficial = strings.TrimSpace(s.name)
		m.Metadata = c
	}
	id, err := s.cl.Send(ctx, m)
	if err != nil {
		return nil, err
	}
	r, err := s.cl.Receipt(ctx, id)
	if r != nil {
		printReceipt(s.out, r, s.all)
	} else if errors.Is(err, agency.ErrUnreachable) {
		fmt.Fprintf(s.out, "  SENT as message %s, but the broker's decision has not arrived yet. Do not send it\n"+
			"  again: the decision is kept at the broker (brokerctl receipts --as %s).\n", id, s.as)
	}
	if errors.Is(err, agency.ErrDenied) || errors.Is(err, agency.ErrRefused) {
		return r, ErrRejected
	}
	return r, err
}

// reply sends payload in answer to the received message req and, once the
// broker has delivered it, marks req handled.
func (s *session) reply(ctx context.Context, req *agency.Delivery, kind string, claims agency.Claims, payload string) error {
	if _, err := s.deliver(ctx, agency.Message{To: req.From, Kind: kind, ReplyTo: req.ID,
		Metadata: claims, Payload: []byte(payload)}); err != nil {
		return err
	}
	return s.box.MarkHandled(req.ID)
}

// answerInInbox tells the official where the answer to a request will be.
func (s *session) answerInInbox() {
	fmt.Fprintf(s.out, "  The answer will be in your inbox: %s inbox --as %s\n", s.prog, s.as)
}

// printReceipt prints the broker's decision. A refusal shows its decisive
// reasons and counts the rest, unless all asks for every one
// (agency.WriteReasons); the signed receipt keeps every reason.
func printReceipt(out io.Writer, r *decision.Record, all bool) {
	if r.Allowed() {
		fmt.Fprintf(out, "  DELIVERED (levererat) to %s, message %s\n    rule %s: %s\n", r.Recipient, r.MessageID, r.Rule, r.Basis)
		if len(r.Obligations) > 0 {
			fmt.Fprintf(out, "    obligations that travel with the data: %s\n", strings.Join(r.Obligations, "; "))
		}
		return
	}
	if r.ErrorCode != "" {
		fmt.Fprintf(out, "  REFUSED (avvisat) by the broker before any decision [%s]:\n", r.ErrorCode)
	} else {
		fmt.Fprintf(out, "  REJECTED (avslag): the law as encoded does not allow this message, message %s\n", r.MessageID)
	}
	agency.WriteReasons(out, "    ", r.Reasons, all)
}

// fetch moves every new delivery from the broker into the local inbox. A
// delivery this agency's keys cannot open stays at the broker; it is counted
// in unopened and the rest are still fetched.
func (s *session) fetch(ctx context.Context, wait time.Duration) (n, unopened int, err error) {
	// The broker offers an unopened delivery again after a while; meeting
	// the same one twice means everything else was fetched.
	seen := map[string]bool{}
	for {
		fctx, cancel := context.WithTimeout(ctx, wait)
		_, err := s.receive(fctx)
		cancel()
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return n, unopened, nil
		case errors.Is(err, agency.ErrBadKey) && seen[err.Error()]:
			return n, unopened, nil
		case errors.Is(err, agency.ErrBadKey):
			seen[err.Error()] = true
			unopened++
			fmt.Fprintf(s.out, "  ! not opened, kept at the broker: %v\n", err)
		case err != nil:
			return n, unopened, err
		default:
			n++
		}
	}
}

// receive takes the next delivery from the broker into the local inbox.
func (s *session) receive(ctx context.Context) (*agency.Delivery, error) {
	d, err := s.cl.Next(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.box.Save(d); err != nil {
		return nil, err
	}
	// Acknowledged only once stored with its decision.
	if err := d.Ack(); err != nil {
		return nil, err
	}
	return d, nil
}

var kindWords = map[string]string{
	agency.KindRequest:       "request (begäran)",
	agency.KindResponse:      "answer (svar)",
	agency.KindDisclosure:    "disclosure (uppgiftslämnande)",
	agency.KindConcernReport: "report of concern (orosanmälan)",
	agency.KindFeedback:      "feedback (återkoppling)",
	agency.KindReport:        "report (anmälan)",
}

func printDelivery(out io.Writer, d *agency.Delivery) {
	kind := kindWords[d.Kind]
	if kind == "" {
		kind = d.Kind
	}
	fmt.Fprintf(out, "  %s  %s from %s, %s\n", d.ID, kind, d.From, d.CreatedAt.Local().Format("2006-01-02 15:04"))
	if d.ReplyTo != "" {
		fmt.Fprintf(out, "    in reply to %s\n", d.ReplyTo)
	}
	fmt.Fprintf(out, "    allowed under %s: %s\n", d.Decision.Rule, d.Decision.Basis)
	if d.SetAside != "" {
		fmt.Fprintf(out, "    SET ASIDE, check before use (åtsidosatt): %s\n", d.SetAside)
	}
	if len(d.Decision.Obligations) > 0 {
		fmt.Fprintf(out, "    obligations: %s\n", strings.Join(d.Decision.Obligations, "; "))
	}
	for _, o := range d.Decision.Obligations {
		switch o {
		case agency.ObligationDoNotForward:
			fmt.Fprintf(out, "    DO NOT PASS THIS ON: it is covered by förundersökningssekretess (OSL 18 kap. 1 och 3 §§)\n")
		case agency.ObligationWithinConsentScope:
			fmt.Fprintf(out, "    DO NOT PASS THIS ON: it was given to you under a consent, which covers only that (OSL 12 kap. 2-3 §§)\n")
		}
	}
	for _, line := range strings.Split(strings.TrimRight(string(d.Payload), "\n"), "\n") {
		fmt.Fprintf(out, "    | %s\n", line)
	}
}

// inboxCmd fetches new messages and lists the open ones.
func inboxCmd(what string) command {
	return command{
		name: "inbox", args: "[--wait 1s]",
		help: "Fetch new messages from the broker, keep them on this computer with the\n" +
			"decision they came with, and list them: " + what + ".\n" +
			"Requests and reports of concern stay listed until you answer them.",
		run: func(ctx context.Context, s *session, fs *flag.FlagSet, args []string) error {
			wait := fs.Duration("wait", time.Second, "how long to wait for new messages")
			if err := parse(fs, args); err != nil || helped(args) {
				return err
			}
			if err := s.connect(ctx); err != nil {
				return err
			}
			n, unopened, err := s.fetch(ctx, *wait)
			if err != nil {
				return err
			}
			// Show what can be read, then fail naming the files that cannot.
			open, damaged := s.box.Open()
			if damaged != nil && !errors.Is(damaged, inbox.ErrDamaged) {
				return damaged
			}
			fmt.Fprintf(s.out, "  %d new, %d open (inkorg):\n", n, len(open))
			for _, d := range open {
				printDelivery(s.out, d)
				// Only requests and reports of concern wait for an answer;
				// the rest is read once shown, and kept with its decision.
				if d.Kind != agency.KindRequest && d.Kind != agency.KindConcernReport {
					if err := s.box.MarkHandled(d.ID); err != nil {
						return err
					}
				}
			}
			if unopened > 0 {
				return fmt.Errorf("%d message(s) could not be opened with this agency's keys and stay at the broker; "+
					"ask the broker's operator for the current directory and this agency's keys: %w", unopened, agency.ErrBadKey)
			}
			return damaged
		},
	}
}

// listFlag collects a repeated or comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*l = append(*l, x)
		}
	}
	return nil
}
