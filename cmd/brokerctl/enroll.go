package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/enroll"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// cmdAgencyKeygen runs on the agency's machine: its private keys never
// reach the broker's.
func cmdAgencyKeygen(args []string, out io.Writer) error {
	fs := newFlags("agency keygen", out)
	var f enroll.Facts
	fs.StringVar(&f.ID, "id", "", "agency id: 2-63 characters of a-z, 0-9 and '-'")
	fs.StringVar(&f.Kind, "kind", "", "police, security_police, customs, school or social_services")
	fs.StringVar(&f.Operator, "operator", "", "for schools: municipal or independent")
	fs.StringVar(&f.Name, "name", "", "display name")
	dir := fs.String("out", "", "new directory for the agency's keys and the request")
	x25519 := fs.Bool("x25519", false, "classic X25519 age key instead of the default hybrid post-quantum key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.ID == "" || f.Kind == "" || f.Name == "" || *dir == "" {
		return errors.New("agency keygen needs --id, --kind, --name and --out")
	}
	r, err := enroll.NewRequest(*dir, f, *x25519, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "keys of %s written to %s (mode 0600), key id %s\n", f.ID, *dir, r.Key.ID)
	fmt.Fprintf(out, "send %s to the broker's operator, who runs:\n  brokerctl agency add --request %s\n",
		filepath.Join(*dir, enroll.RequestFile), enroll.RequestFile)
	return nil
}

func cmdAgencyAdd(args []string, out io.Writer) error {
	fs := newFlags("agency add", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	file := fs.String("request", "", "request file written by brokerctl agency keygen or rotate")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("agency add needs --request")
	}
	r, err := enroll.Load(*file)
	if err != nil {
		return err
	}
	if _, err := enroll.Apply(layout.Directory(*data), r, time.Now()); err != nil {
		return err
	}
	verb := "enrolled"
	if r.Type == enroll.TypeRotate {
		verb = "added a new key for"
	}
	fmt.Fprintf(out, "%s %s: key %s\n  signing key: %s\n  age:         %s\n", verb, r.Agency.ID, r.Key.ID, r.Key.SigningKey, r.Key.AgeRecipient)
	if r.Type == enroll.TypeRotate {
		fmt.Fprintf(out, "the old key %s stays valid; once the agency uses the new one, run:\n  brokerctl agency revoke --id %s --key %s --reason superseded\n",
			r.Previous, r.Agency.ID, r.Previous)
	}
	return nil
}

// cmdAgencyRotate runs on the agency's machine, like keygen.
func cmdAgencyRotate(args []string, out io.Writer) error {
	fs := newFlags("agency rotate", out)
	id := fs.String("id", "", "agency id")
	old := fs.String("keys", "", "directory of the agency's current keys")
	dir := fs.String("out", "", "new directory for the new keys and the request")
	x25519 := fs.Bool("x25519", false, "classic X25519 age key instead of the default hybrid post-quantum key")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *old == "" || *dir == "" {
		return errors.New("agency rotate needs --id, --keys and --out")
	}
	r, err := enroll.NewRotation(*id, *old, *dir, *x25519, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "new keys of %s written to %s (mode 0600), key id %s, replacing %s\n", *id, *dir, r.Key.ID, r.Previous)
	fmt.Fprintf(out, "send %s to the broker's operator, who runs:\n  brokerctl agency add --request %s\n",
		filepath.Join(*dir, enroll.RequestFile), enroll.RequestFile)
	return nil
}

func cmdAgencyRevoke(args []string, out io.Writer) error {
	fs := newFlags("agency revoke", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	id := fs.String("id", "", "agency id")
	kid := fs.String("key", "", "id of the key to revoke (k-…)")
	reason := fs.String("reason", "", "why, kept in the directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" || *kid == "" || *reason == "" {
		return errors.New("agency revoke needs --id, --key and --reason")
	}
	now := time.Now()
	if _, err := enroll.RevokeFile(layout.Directory(*data), *id, *kid, *reason, now); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked key %s of %s at %s; a running broker refuses it and cuts its connections once it reloads the directory\n",
		*kid, *id, now.UTC().Format(time.RFC3339))
	return nil
}

func cmdBrokerRotate(args []string, out io.Writer) error {
	fs := newFlags("broker rotate", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	x25519 := fs.Bool("x25519", false, "classic X25519 age key instead of the default hybrid post-quantum key")
	if err := parse(fs, args); err != nil {
		return err
	}
	kid, err := service.RotateBrokerKey(*data, *x25519, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "new broker key %s in %s; agencies seal to both keys from now on.\n"+
		"Restart the broker so that it signs receipts with the new key. Old receipts stay verifiable while the old key is not revoked.\n",
		kid, filepath.Join(layout.BrokerKeys(*data), service.BrokerKeysDir, kid))
	return nil
}

func cmdBrokerRevoke(args []string, out io.Writer) error {
	fs := newFlags("broker revoke", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	kid := fs.String("key", "", "id of the broker key to revoke (k-…)")
	reason := fs.String("reason", "", "why, kept in the directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *kid == "" || *reason == "" {
		return errors.New("broker revoke needs --key and --reason")
	}
	if err := service.RevokeBrokerKey(*data, *kid, *reason, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked broker key %s; receipts it signed no longer verify\n", *kid)
	return nil
}

// cmdAgencyKeys lists the keys of one agency, or of the broker, with their
// state now: the ids revoke takes.
func cmdAgencyKeys(args []string, out io.Writer) error {
	fs := newFlags("agency keys", out)
	data := fs.String("data", defaults.DataDir, "data directory")
	id := fs.String("id", "", `agency id, or "broker"`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return errors.New(`agency keys needs --id (an agency id, or "broker")`)
	}
	d, err := directory.Load(layout.Directory(*data))
	if err != nil {
		return err
	}
	list := d.Broker.Keys
	if *id != "broker" {
		a, ok := d.Lookup(*id)
		if !ok {
			return fmt.Errorf("agency %s is not in the directory", *id)
		}
		list = a.Keys
	}
	now := time.Now()
	for _, k := range list {
		state := "valid"
		switch {
		case k.Revoked(now):
			state = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339) + " (" + k.RevokedReason + ")"
		case k.NotAfter != nil && !now.Before(*k.NotAfter):
			state = "expired " + k.NotAfter.UTC().Format(time.RFC3339)
		case now.Before(k.NotBefore):
			state = "from " + k.NotBefore.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(out, "%s  %-10s %s\n", k.ID, state, k.AgeRecipient[:min(len(k.AgeRecipient), 24)]+"…")
	}
	return nil
}
