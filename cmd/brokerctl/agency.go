package main

import (
	"context"
	"encoding/json"
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
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// conn is how an agency-side command reaches the broker: the agency's
// home with its keys, the directory and the broker's address.
type conn struct {
	data, home, dir, url, as string
	tls                      tlsFlags
}

func (c *conn) flags(fs *flag.FlagSet, role string) {
	fs.StringVar(&c.data, "data", defaults.DataDir, "data directory: the defaults of --directory and --keys are in it")
	fs.StringVar(&c.home, "keys", "", "the agency's home: its keys, as agency keygen or demo made them (default <data>/agencies/<id>)")
	fs.StringVar(&c.dir, "directory", "", "the agency directory (default <data>/directory.yaml)")
	fs.StringVar(&c.url, "nats-url", defaults.NATSURL, "NATS URL of the broker")
	fs.StringVar(&c.as, role, "", "agency id to act as")
	c.tls.flags(fs, "<keys>/"+tlsca.ClientCertFile)
}

func (c *conn) dial(ctx context.Context) (*agency.Client, *directory.Directory, error) {
	if c.as == "" {
		return nil, nil, errors.New("say which agency you act as")
	}
	if c.dir == "" {
		c.dir = layout.Directory(c.data)
	}
	defaulted := c.home == ""
	if defaulted {
		c.home = layout.AgencyKeys(c.data, c.as)
	}
	d, err := directory.Load(c.dir)
	if err != nil {
		return nil, nil, err
	}
	id, err := agency.LoadIdentity(c.home, c.as)
	if defaulted && errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w; give the agency's home with --keys (brokerctl demo puts it in %s)", err,
			layout.AgencyHome(layout.AgencyHomes(c.data), c.as))
	}
	if err != nil {
		return nil, nil, err
	}
	if err := c.tls.resolve(c.home, tlsca.ClientCertFile, tlsca.ClientKeyFile); err != nil {
		return nil, nil, err
	}
	cl, err := agency.Dial(ctx, agency.Config{URL: c.url, Identity: id, Directory: d,
		TLSCA: c.tls.ca, TLSCert: c.tls.cert, TLSKey: c.tls.key})
	return cl, d, err
}

// readArg returns s itself when it looks like inline JSON, else the file it names.
func readArg(s string) ([]byte, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		return []byte(s), nil
	}
	if s == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(s)
}

func cmdSend(args []string, out io.Writer) error {
	fs := newFlags("send", out)
	var c conn
	c.flags(fs, "from")
	to := fs.String("to", "", "recipient agency id")
	kind := fs.String("kind", "", "message kind: request, disclosure, concern_report, feedback, response…")
	meta := fs.String("meta", "", "policy metadata: a JSON file or inline JSON (see policies/README.md)")
	payloadFile := fs.String("payload", "", "payload file, or - for standard input")
	text := fs.String("text", "", "payload text (instead of --payload)")
	replyTo := fs.String("reply-to", "", "id of the message this answers")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the receipt")
	basis := fs.String("basis", "", agency.BasisHelp)
	all := fs.Bool("all", false, agency.AllHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *to == "" || *kind == "" || *meta == "" {
		return errors.New("send needs --from, --to, --kind and --meta")
	}
	if *basis != "" {
		if err := agency.CheckBasis(*basis); err != nil {
			return err
		}
	}
	mb, err := readArg(*meta)
	if err != nil {
		return fmt.Errorf("--meta: %w", err)
	}
	var md map[string]any
	if err := json.Unmarshal(mb, &md); err != nil {
		return fmt.Errorf("--meta is not a JSON object: %w", err)
	}
	if *basis != "" {
		if b, ok := md["legal_basis_claimed"]; ok && b != *basis {
			return fmt.Errorf("--meta names legal_basis_claimed %v and --basis %s: give one", b, *basis)
		}
		md["legal_basis_claimed"] = *basis
	}
	payload := []byte(*text)
	if *payloadFile != "" {
		if payload, err = readArg(*payloadFile); err != nil {
			return fmt.Errorf("--payload: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *wait)
	defer cancel()
	cl, _, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer cl.Close()
	id, err := cl.Send(ctx, agency.Message{To: *to, Kind: *kind, ReplyTo: *replyTo, Metadata: md, Payload: payload})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %s %s → %s, waiting for the broker's receipt…\n", id, c.as, *to)
	r, err := cl.Receipt(ctx, id)
	if r != nil {
		printReceipt(out, r, *all)
	}
	var rej *agency.RejectedError
	if errors.As(err, &rej) {
		return errors.New("the message was rejected; the reasons are above, and the signed receipt lists every one")
	}
	return err
}

// printReceipt prints a receipt and its signed text. A rejection shows its
// decisive reasons and counts the rest unless all is set (agency.WriteReasons).
func printReceipt(out io.Writer, r *decision.Record, all bool) {
	if r.Allowed() {
		fmt.Fprintf(out, "DELIVERED under %s (%s)\n", r.Rule, r.Basis)
		if len(r.Obligations) > 0 {
			fmt.Fprintf(out, "  obligations: %s\n", strings.Join(r.Obligations, ", "))
		}
	} else {
		code := ""
		if r.ErrorCode != "" {
			code = " [" + r.ErrorCode + "]"
		}
		fmt.Fprintf(out, "REJECTED%s\n", code)
		agency.WriteReasons(out, "  ", r.Reasons, all)
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(out, "  signed receipt: %s\n", b)
}

func cmdRecv(args []string, out io.Writer) error {
	fs := newFlags("recv", out)
	var c conn
	c.flags(fs, "as")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for a message")
	max := fs.Int("max", 0, "stop after this many messages (0: until --wait passes without one)")
	outDir := fs.String("out", "", "also write each payload to DIR/<message id>")
	if err := parse(fs, args); err != nil {
		return err
	}
	cl, _, err := c.dial(context.Background())
	if err != nil {
		return err
	}
	defer cl.Close()
	return each(out, *wait, *max, "no messages", cl.Next, func(d *agency.Delivery) error {
		fmt.Fprintf(out, "%s from %s (%s) at %s under %s (%s)\n", d.ID, d.From, d.Kind,
			d.CreatedAt.Format(time.RFC3339), d.Decision.Rule, d.Decision.Basis)
		if d.SetAside != "" {
			fmt.Fprintf(out, "  SET ASIDE, check before use: %s\n", d.SetAside)
		}
		if len(d.Decision.Obligations) > 0 {
			fmt.Fprintf(out, "  obligations: %s\n", strings.Join(d.Decision.Obligations, ", "))
		}
		if *outDir != "" {
			// On disk before the acknowledgement below, or a crash loses it.
			if err := safefile.Write(filepath.Join(*outDir, d.ID), d.Payload, 0o600); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(out, "  %s\n", d.Payload)
		}
		// Acknowledged only once shown or stored: until then it is delivered again.
		return d.Ack()
	})
}

// each fetches and handles items until limit are handled (0: no limit) or wait
// passes without one, saying none when there was nothing at all.
func each[T any](out io.Writer, wait time.Duration, limit int, none string,
	fetch func(context.Context) (T, error), handle func(T) error) error {
	for n := 0; limit == 0 || n < limit; n++ {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		item, err := fetch(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			if n == 0 {
				fmt.Fprintln(out, none)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := handle(item); err != nil {
			return err
		}
	}
	return nil
}

func cmdReceipts(args []string, out io.Writer) error {
	fs := newFlags("receipts", out)
	var c conn
	c.flags(fs, "as")
	wait := fs.Duration("wait", 5*time.Second, "how long to wait for a receipt")
	if err := parse(fs, args); err != nil {
		return err
	}
	cl, _, err := c.dial(context.Background())
	if err != nil {
		return err
	}
	defer cl.Close()
	return each(out, *wait, 0, "no receipts", cl.NextReceipt, func(r *decision.Record) error {
		fmt.Fprintf(out, "message %s → %s: ", r.MessageID, r.Recipient)
		printReceipt(out, r, true)
		return nil
	})
}
