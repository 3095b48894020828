// Command brokerctl administers a sekretessbroker and speaks for agencies from
// a terminal.
//
//	brokerctl init [--tls]              create the broker's keys and directory (and a private CA)
//	brokerctl agency new --id … --kind … keygen and add in one step, the agency's home beside the data
//	brokerctl agency keygen|add|rotate|revoke
//	                                    agencies make their own keys; the broker adds public halves
//	brokerctl demo                      create the demo agencies in ./agencies (make run does this)
//	brokerctl nats-config               NATS users and permissions for an existing cluster
//	brokerctl send --from … --to … …    sign, encrypt and send a message; print its receipt
//	brokerctl recv --as …               receive, verify and decrypt deliveries
//	brokerctl decide --input in.json    evaluate the policy offline
//	brokerctl audit verify|export|prove|check-proof|show|shred|witness|rotate-key
//	                                    verify, export, prove and read the audit log
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

const usage = `brokerctl administers a sekretessbroker and speaks for agencies.

Usage:
  brokerctl init   [--data DIR] [--tls [--tls-host NAME,…] [--agencies DIR]]
  brokerctl agency new --id ID --kind police|school|social_services [--operator municipal|independent] --name NAME [--x25519] [--data DIR] [--agencies DIR]
                                                              keygen and add in one step; the home is DIR/ID
  brokerctl agency list [--data DIR]
  brokerctl agency keygen --id ID --kind KIND [--operator OP] --name NAME --out DIR [--x25519]   on the agency's machine
  brokerctl agency add --request FILE [--data DIR]            verify a keygen/rotate request, add its public keys
  brokerctl agency rotate --id ID --keys DIR --out NEWDIR [--x25519]   on the agency's machine: new keys, request signed by both
  brokerctl agency revoke --id ID --key KEYID --reason TEXT [--data DIR]
  brokerctl agency keys --id ID|broker [--data DIR]           key ids and whether each is valid now
  brokerctl broker rotate [--x25519] [--data DIR]              new broker keys beside the old; restart the broker
  brokerctl broker revoke --key KEYID --reason TEXT [--data DIR]
  brokerctl demo   [--data DIR] [--agencies DIR]                the demo agencies, homes in DIR (default: agencies beside --data)
  brokerctl nats-config [--data DIR] [--out FILE]
  brokerctl send   --from ID [--keys HOME] --to ID --kind KIND --meta FILE|JSON [--payload FILE|-] [--text TEXT] [--reply-to ID] [--wait 10s]
                   [--basis RULE] [--all]                     RULE: the rule relied on (claims.legal_basis_claimed), whose reasons a
                                                              refusal shows first; --all: every reason, not only the decisive ones
  brokerctl recv   --as ID [--keys HOME] [--wait 5s] [--max N] [--out DIR]
  brokerctl receipts --as ID [--keys HOME] [--wait 5s]
  brokerctl decide --input FILE [--policies DIR]
  brokerctl audit verify [--file EXPORT] [--key audit.pub] [--witnesses FILE] [--witness-state FILE] [--checkpoint-interval 10s]
                                                              recompute the tree, check every checkpoint and what witnesses saw;
                                                              say when the newest records will be signed
  brokerctl audit export --out FILE                            the log and its checkpoints, for an auditor
  brokerctl audit prove DECISION-ID [--file EXPORT] > proof.json
  brokerctl audit check-proof proof.json --key audit-keys.txt [--witness-key FILE]  offline, with the public keys alone
  brokerctl audit show [--from T] [--to T] [--agency ID] [--rule R] [--kind K] [--category C] [--allowed|--denied]
                       [--identity auditor.key [--personnummer NR|--pseudonym P]] [--json|--summary]
  brokerctl audit report --personnummer NR --identity auditor.key [--pseudonym-key FILE] [--json]
                                                              every decision about one person (register extract)
  brokerctl audit shred --before YYYY-MM-DD [--json]           erase the data keys of past months (never the current one)
  brokerctl audit witness-key --name NAME --out FILE           a witness's key; prints its public key
  brokerctl audit witness --witness-key FILE --state FILE      cosign the latest consistent checkpoint
  brokerctl audit rotate-key [--data DIR]                      new checkpoint key; the old public key stays in audit-keys.txt; restart the broker

Audit commands read the stream through --nats-url as the auditor made by init
(--auditor-nkey, default <data>/broker/auditor-nats.nk: read rights only), or an
export with --file. Only shred, which destroys keys, logs in as the broker.
Their flags and arguments may come in any order; "brokerctl audit COMMAND -h"
explains each.

Every command takes --data (default %s). An agency keeps its private keys
in its own home, never in the broker's data directory: send, recv and
receipts find them with --keys HOME (brokerctl demo makes ./agencies/ID; the
default, <data>/agencies/ID, is the older layout) and the directory with
--directory FILE (default <data>/directory.yaml). Commands that talk to the
broker take --nats-url (default %s) and, when its server requires
TLS, --tls-ca FILE (and --tls-cert/--tls-key, found in the agency's home by
default).
Run "brokerctl COMMAND -h" for the flags of one command.
`

func main() {
	os.Exit(exitCode(run(os.Args[1:], os.Stdout), os.Stderr))
}

// exitCode prints err, if it is a failure, and returns the process's exit
// status: 0 for success and for help asked for (-h, --help, help), 1
// otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "brokerctl:", err)
	return 1
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// unknown is the error for a command brokerctl does not have.
func unknown(words ...string) error {
	return fmt.Errorf("unknown command %q; run brokerctl -h", strings.Join(words, " "))
}

// group is a command with commands of its own: agency, broker, audit.
type group struct {
	name     string
	summary  string
	commands []string
	run      func(cmd string, args []string, out io.Writer) error
}

var groups = []group{
	{"agency", "enrol and inspect agencies: agencies make their own keys, the broker adds their public halves",
		[]string{"new", "list", "keygen", "add", "rotate", "revoke", "keys"}, runAgency},
	{"broker", "the broker's own keys", []string{"rotate", "revoke"}, runBroker},
	{"audit", "verify, export, prove and read the audit log",
		[]string{"verify", "export", "prove", "check-proof", "show", "report", "shred", "witness-key", "witness", "rotate-key"}, runAudit},
}

// groupHelp is what "brokerctl GROUP -h" prints: the group's lines of the
// usage, and where to find more.
func groupHelp(g group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "brokerctl %s: %s.\n\nUsage:\n", g.name, g.summary)
	for _, c := range g.commands {
		for _, l := range usageLines(g.name + " " + c) {
			fmt.Fprintln(&b, l)
		}
	}
	fmt.Fprintf(&b, "\nRun \"brokerctl %s COMMAND -h\" for what one does and its flags.\n", g.name)
	return b.String()
}

// usageLines returns the lines of the usage text that show command name,
// with their continuation lines.
func usageLines(name string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(usage, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "brokerctl "+name || strings.HasPrefix(t, "brokerctl "+name+" "):
			in = true
			out = append(out, l)
		case in && t != "" && strings.HasPrefix(l, "      ") && !strings.HasPrefix(t, "brokerctl "):
			out = append(out, l)
		default:
			in = false
		}
	}
	return out
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprintf(out, usage, defaults.DataDir, defaults.NATSURL)
		return nil
	}
	cmd, rest := args[0], args[1:]
	for _, g := range groups {
		if g.name != cmd {
			continue
		}
		if len(rest) == 0 {
			fmt.Fprint(out, groupHelp(g))
			return fmt.Errorf("brokerctl %s needs a command", g.name)
		}
		if isHelp(rest[0]) {
			fmt.Fprint(out, groupHelp(g))
			return nil
		}
		return g.run(rest[0], rest[1:], out)
	}
	switch cmd {
	case "init":
		return cmdInit(rest, out)
	case "demo":
		return cmdDemo(rest, out)
	case "nats-config":
		return cmdNATSConfig(rest, out)
	case "send":
		return cmdSend(rest, out)
	case "recv":
		return cmdRecv(rest, out)
	case "receipts":
		return cmdReceipts(rest, out)
	case "decide":
		return cmdDecide(rest, out)
	}
	return unknown(cmd)
}

func runAgency(cmd string, args []string, out io.Writer) error {
	switch cmd {
	case "new":
		return cmdAgencyNew(args, out)
	case "list":
		return cmdAgencyList(args, out)
	case "keygen":
		return cmdAgencyKeygen(args, out)
	case "add":
		return cmdAgencyAdd(args, out)
	case "rotate":
		return cmdAgencyRotate(args, out)
	case "revoke":
		return cmdAgencyRevoke(args, out)
	case "keys":
		return cmdAgencyKeys(args, out)
	}
	return unknown("agency", cmd)
}

func runBroker(cmd string, args []string, out io.Writer) error {
	switch cmd {
	case "rotate":
		return cmdBrokerRotate(args, out)
	case "revoke":
		return cmdBrokerRevoke(args, out)
	}
	return unknown("broker", cmd)
}

// helpOutput is the output of every command's flag set. The flag package's
// own messages are dropped: Parse returns the error, which main prints once.
// The help asked for goes to out (see parseArgs).
type helpOutput struct{ out io.Writer }

func (helpOutput) Write(p []byte) (int, error) { return len(p), nil }

func newFlags(name string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("brokerctl "+name, flag.ContinueOnError)
	fs.SetOutput(helpOutput{out})
	fs.Usage = func() {} // parseArgs prints the help when it is asked for
	return fs
}

// printHelp writes the help of the command of fs to the writer newFlags was
// given: its own text, or its lines of the usage, then its flags.
func printHelp(fs *flag.FlagSet) {
	h, ok := fs.Output().(helpOutput)
	if !ok {
		fs.PrintDefaults()
		return
	}
	name := strings.TrimPrefix(fs.Name(), "brokerctl ")
	text := commandHelp(name)
	if text == "" {
		text = "Usage:\n" + strings.Join(usageLines(name), "\n") + "\n"
	}
	fmt.Fprintf(h.out, "%s\nFlags:\n", text)
	fs.SetOutput(h.out)
	defer fs.SetOutput(h)
	fs.PrintDefaults()
}

// parse parses a command's flags, which may come in any order, and refuses
// any other argument.
func parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q; run %s -h", pos[0], fs.Name())
	}
	return nil
}

// parseArgs parses flags that may come before, between and after the
// positional arguments, which it returns in order. The flag package stops at
// the first non-flag, so it is run again on what follows each one. After
// "--" everything is positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	if len(args) == 1 && len(tail) == 0 && isHelp(args[0]) {
		// "brokerctl send help" asks for help as "-h" does.
		args = []string{"-h"}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(fs)
				return nil, err
			}
			return nil, fmt.Errorf("%w; run %s -h", err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
