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
  brokerctl audit verify [--file EXPORT] [--key audit.pub] [--witnesses FILE] [--witness-state FILE]
                                                              recompute the tree, check every checkpoint and what witnesses saw
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
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			// -h printed the command's help: asked for, not a failure.
			return
		}
		fmt.Fprintln(os.Stderr, "brokerctl:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("unknown command; run brokerctl -h")

func run(args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(out, usage, defaults.DataDir, defaults.NATSURL)
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "init":
		return cmdInit(rest, out)
	case "agency":
		if len(rest) == 0 {
			return errUsage
		}
		switch rest[0] {
		case "new":
			return cmdAgencyNew(rest[1:], out)
		case "list":
			return cmdAgencyList(rest[1:], out)
		case "keygen":
			return cmdAgencyKeygen(rest[1:], out)
		case "add":
			return cmdAgencyAdd(rest[1:], out)
		case "rotate":
			return cmdAgencyRotate(rest[1:], out)
		case "revoke":
			return cmdAgencyRevoke(rest[1:], out)
		case "keys":
			return cmdAgencyKeys(rest[1:], out)
		}
		return errUsage
	case "broker":
		if len(rest) == 0 {
			return errUsage
		}
		switch rest[0] {
		case "rotate":
			return cmdBrokerRotate(rest[1:], out)
		case "revoke":
			return cmdBrokerRevoke(rest[1:], out)
		}
		return errUsage
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
	case "audit":
		return cmdAudit(rest, out)
	}
	return errUsage
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("brokerctl "+name, flag.ContinueOnError)
	if text := commandHelp(name); text != "" {
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "%s\nFlags:\n", text)
			fs.PrintDefaults()
		}
	}
	return fs
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
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, tail...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}
