package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
)

func cmdInit(args []string, out io.Writer) error {
	fs := newFlags("init", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	withTLS := fs.Bool("tls", false, "also create a private CA in <data>/broker/tls/ with the NATS server's and the broker's certificates, and client certificates for the agencies whose homes are in --agencies")
	var hosts hostList
	fs.Var(&hosts, "tls-host", "a name or address agencies reach the NATS server by, besides localhost (repeat or separate with commas)")
	agencies := fs.String("agencies", "", "with --tls: folder of the agencies' homes that get client certificates (default: agencies beside --data)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agencies == "" {
		*agencies = layout.AgencyHomes(*data)
	}
	if err := provision.CheckApart(*data, *agencies); *withTLS && err != nil {
		return fmt.Errorf("init --tls: %w; give another --agencies", err)
	}
	created, err := provision.Init(*data)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(out, "created broker keys in %s and an empty directory %s\n",
			layout.BrokerKeys(*data), layout.Directory(*data))
	} else {
		fmt.Fprintf(out, "%s already initialised\n", *data)
	}
	// Directories made before auditors existed get theirs now.
	if nkey, made, err := provision.EnsureAuditor(*data); err != nil {
		return err
	} else if made {
		fmt.Fprintf(out, "created the auditor NATS user %s (seed %s): it may read the audit log, never write it; brokerctl audit uses it\n",
			nkey, filepath.Join(layout.BrokerKeys(*data), keys.AuditorNKeyFile))
	}
	if err := ensureJetStreamKey(*data, out); err != nil {
		return err
	}
	if *withTLS {
		return initTLS(*data, *agencies, hosts, out)
	}
	return nil
}

// cmdAgencyNew does keygen and add in one step, with the agency's home
// beside the broker's data directory, not in it.
func cmdAgencyNew(args []string, out io.Writer) error {
	fs := newFlags("agency new", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	agencies := fs.String("agencies", "", "folder of the agencies' homes, beside --data and never in it (default: agencies beside --data)")
	var s provision.AgencySpec
	fs.StringVar(&s.ID, "id", "", "agency id: 2-63 characters of a-z, 0-9 and '-'")
	fs.StringVar(&s.Kind, "kind", "", "police, security_police, customs, school or social_services")
	fs.StringVar(&s.Operator, "operator", "", "for schools: municipal or independent")
	fs.StringVar(&s.Name, "name", "", "display name")
	fs.BoolVar(&s.X25519, "x25519", false, "classic X25519 age key instead of the default hybrid post-quantum key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if s.ID == "" || s.Kind == "" || s.Name == "" {
		return errors.New("agency new needs --id, --kind and --name")
	}
	if *agencies == "" {
		*agencies = layout.AgencyHomes(*data)
	}
	a, err := provision.AddAgency(*data, *agencies, s)
	if err != nil {
		return err
	}
	home := layout.AgencyHome(*agencies, a.ID)
	fmt.Fprintf(out, "agency %s (%s) created\n  home:        %s (keys mode 0600; hand it to the agency)\n  signing key: %s\n  age:         %s\n",
		a.ID, a.Kind, home, a.SigningKey, a.AgeRecipient)
	fmt.Fprintf(out, "its clients take --keys %s\n", home)
	return issueAgencyCerts(*data, *agencies, out)
}

func cmdAgencyList(args []string, out io.Writer) error {
	fs := newFlags("agency list", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := directory.Load(layout.Directory(*data))
	if err != nil {
		return err
	}
	for _, a := range d.Agencies {
		kind := a.Kind
		if a.Operator != "" {
			kind += "/" + a.Operator
		}
		fmt.Fprintf(out, "%-24s %-28s %s\n", a.ID, kind, a.Name)
	}
	return nil
}

// demoAgencies are the parties of the tour in the README.
var demoAgencies = []provision.AgencySpec{
	{ID: "polisen-syd", Kind: directory.KindPolice, Name: "Polisen, lokalpolisområde Malmö Syd"},
	{ID: "rosengard-skola", Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Rosengårdsskolan (kommunal)"},
	{ID: "friskolan-malmo", Kind: directory.KindSchool, Operator: directory.OperatorIndependent, Name: "Friskolan i Malmö (enskild huvudman)"},
	{ID: "soc-malmo", Kind: directory.KindSocialServices, Name: "Socialtjänsten Malmö stad"},
}

// cmdDemo creates the demo agencies, each through keygen and add, with
// their homes and the demo auditor's key in a folder beside the data
// directory: the broker's folder holds only the broker's own keys.
func cmdDemo(args []string, out io.Writer) error {
	fs := newFlags("demo", out)
	data := fs.String("data", defaults.DataDir, "data directory: the broker's keys and the directory")
	agencies := fs.String("agencies", "", "folder of the demo agencies' homes and the demo auditor's key, beside --data and never in it (default: agencies beside --data)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *agencies == "" {
		*agencies = layout.AgencyHomes(*data)
	}
	if err := provision.CheckApart(*data, *agencies); err != nil {
		return fmt.Errorf("demo: %w; give another --agencies", err)
	}
	if _, err := provision.Init(*data); err != nil {
		return err
	}
	d, err := directory.Load(layout.Directory(*data))
	if err != nil {
		return err
	}
	for _, s := range demoAgencies {
		if _, ok := d.Lookup(s.ID); ok {
			continue
		}
		home := layout.AgencyHome(*agencies, s.ID)
		// A home kept from a data directory since removed enrols again
		// with its request, as agency add would.
		if r, err := enroll.Load(filepath.Join(home, enroll.RequestFile)); err == nil {
			if _, err := enroll.Apply(layout.Directory(*data), r, time.Now()); err != nil {
				return fmt.Errorf("demo agency %s from %s: %w (remove %s to start over)", s.ID, home, err, *agencies)
			}
			fmt.Fprintf(out, "enrolled demo agency %s again from its home %s\n", s.ID, home)
			continue
		}
		if _, err := provision.AddAgency(*data, *agencies, s); err != nil {
			return err
		}
		fmt.Fprintf(out, "created demo agency %s in %s\n", s.ID, home)
	}
	if err := issueAgencyCerts(*data, *agencies, out); err != nil {
		return err
	}
	return demoAuditor(*data, *agencies, out)
}

// demoAuditorKey is the demo auditor's age identity in the folder of agency
// homes: not the broker's, so not in its folder.
func demoAuditorKey(agencies string) string {
	return filepath.Join(agencies, "auditor", keys.AgeKeyFile)
}

// demoAuditor gives the demo an auditor, so that the audit log records the
// personal fields and "brokerctl audit show --identity" can open them. A real
// deployment lists its supervisors' own age recipients in auditors.txt.
func demoAuditor(data, agencies string, out io.Writer) error {
	list := filepath.Join(layout.BrokerKeys(data), keys.AuditorsFile)
	if _, err := os.Stat(list); err == nil {
		return nil
	}
	key := demoAuditorKey(agencies)
	rcpt, err := keys.WriteAgeIdentity(key, true)
	if errors.Is(err, fs.ErrExist) {
		// Kept from a data directory since removed: list it again.
		rcpt, err = ageRecipient(key)
	}
	if err != nil {
		return fmt.Errorf("demo auditor: %w", err)
	}
	line := "# Personal fields of the audit log are sealed to these age recipients.\n" + rcpt + "\n"
	if err := safefile.Create(list, []byte(line), 0o644); err != nil {
		return fmt.Errorf("demo auditor: %w", err)
	}
	fmt.Fprintf(out, "created a demo auditor: identity %s, listed in %s\n", key, list)
	return nil
}

// ageRecipient returns the recipient of the age identity file at path.
func ageRecipient(path string) (string, error) {
	id, err := keys.LoadAgeIdentity(path)
	if err != nil {
		return "", err
	}
	switch id := id.(type) {
	case *age.HybridIdentity:
		return id.Recipient().String(), nil
	case *age.X25519Identity:
		return id.Recipient().String(), nil
	}
	return "", fmt.Errorf("%s: not an age identity brokerctl made", path)
}

func cmdNATSConfig(args []string, out io.Writer) error {
	fs := newFlags("nats-config", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	file := fs.String("out", "", "write to this file (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := directory.Load(layout.Directory(*data))
	if err != nil {
		return err
	}
	conf := natsserver.AuthorizationConfig(d)
	if *file == "" {
		_, err = out.Write(conf)
		return err
	}
	if err := safefile.Write(*file, conf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote the NATS users of %d agencies and the broker to %s; include it in every node's configuration and reload the servers\n", len(d.Agencies), *file)
	return nil
}

func cmdDecide(args []string, out io.Writer) error {
	fs := newFlags("decide", out)
	input := fs.String("input", "", "policy input JSON file (see policies/README.md)")
	dir := fs.String("policies", defaults.PolicyDir, "policy directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("decide needs --input FILE")
	}
	b, err := os.ReadFile(*input)
	if err != nil {
		return err
	}
	var in map[string]any
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("%s: not a JSON object: %w", *input, err)
	}
	ctx := context.Background()
	e, err := policy.Open(ctx, policy.Config{Dir: *dir})
	if err != nil {
		return err
	}
	d, evalErr := e.Eval(ctx, in)
	res := map[string]any{"decision": d.Result, "revision": d.Revision}
	if evalErr != nil {
		res["error"] = evalErr.Error()
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	return evalErr
}
