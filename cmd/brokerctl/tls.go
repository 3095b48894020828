package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
)

// tlsFlags are the TLS files of a connection to the broker's NATS server.
type tlsFlags struct{ ca, cert, key string }

func (t *tlsFlags) flags(fs *flag.FlagSet, certDefault string) {
	fs.StringVar(&t.ca, "tls-ca", "", "CA file the NATS server's certificate is checked against; set it when the server requires TLS (<data>/broker/tls/ca.crt)")
	fs.StringVar(&t.cert, "tls-cert", "", "client certificate for mutual TLS (default with --tls-ca: "+certDefault+" if present)")
	fs.StringVar(&t.key, "tls-key", "", "key of --tls-cert")
}

// resolve fills in the default client certificate, in dir, when a CA is
// given and no certificate: the files "brokerctl init --tls" and "agency new"
// write.
func (t *tlsFlags) resolve(dir, certFile, keyFile string) error {
	if t.ca == "" || t.cert != "" || t.key != "" {
		if (t.cert == "") != (t.key == "") {
			return errors.New("--tls-cert and --tls-key go together")
		}
		return nil
	}
	cert, key := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	if _, err := os.Stat(cert); err == nil {
		t.cert, t.key = cert, key
	}
	return nil
}

// natsOptions returns the TLS options of a NATS connection as the broker,
// for the audit commands.
func (t *tlsFlags) natsOptions(data string) ([]nats.Option, error) {
	if err := t.resolve(layout.TLS(data), tlsca.BrokerCertFile, tlsca.BrokerKeyFile); err != nil {
		return nil, err
	}
	return tlsca.NATSOptions(t.ca, t.cert, t.key)
}

// initTLS creates the private CA and the certificates of "brokerctl init
// --tls", unless the data directory has a CA already, and issues the
// agencies' client certificates.
func initTLS(data, agencies string, hosts []string, out io.Writer) error {
	dir := layout.TLS(data)
	all := append(append([]string{}, tlsca.DefaultHosts...), hosts...)
	switch _, err := tlsca.Init(dir, all); {
	case errors.Is(err, fs.ErrExist):
		fmt.Fprintf(out, "%s already holds a CA; keeping it\n", dir)
	case err != nil:
		return err
	default:
		fmt.Fprintf(out, "created a private CA and certificates in %s (keys mode 0600); the server certificate covers %s\n",
			dir, strings.Join(all, ", "))
	}
	if err := issueAgencyCerts(data, agencies, out); err != nil {
		return err
	}
	at := func(f string) string { return filepath.Join(dir, f) }
	fmt.Fprintf(out, `
Start the broker with TLS and client certificates required:
  sekretessbroker --data %s --tls-cert %s --tls-key %s --tls-client-ca %s
Agencies connect with:
  --tls-ca %s  (their certificate, tls.crt and tls.key in their home, is found by itself)
`, data, at(tlsca.ServerCertFile), at(tlsca.ServerKeyFile), at(tlsca.CAFile), at(tlsca.CAFile))
	return nil
}

// issueAgencyCerts gives every agency of the directory that has a home in
// agencies, or in the older layout inside the data directory, and no
// certificate yet a client certificate of the data directory's CA, in its
// home. An agency whose home is elsewhere, as after agency keygen on its own
// machine, is named: its certificate is issued and handed over by hand.
// Without a CA it does nothing.
func issueAgencyCerts(data, agencies string, out io.Writer) error {
	ca, err := tlsca.LoadDir(layout.TLS(data))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		return err
	}
	for _, a := range d.Agencies {
		dir := layout.AgencyHome(agencies, a.ID)
		if !isDir(dir) {
			dir = layout.AgencyKeys(data, a.ID)
		}
		if !isDir(dir) {
			fmt.Fprintf(out, "no home of %s in %s: give it a TLS client certificate of %s by other means\n",
				a.ID, agencies, filepath.Join(layout.TLS(data), tlsca.CAFile))
			continue
		}
		cert := filepath.Join(dir, tlsca.ClientCertFile)
		if _, err := os.Stat(cert); err == nil {
			continue
		}
		p, err := ca.IssueClient(a.ID)
		if err != nil {
			return err
		}
		if err := p.Write(cert, filepath.Join(dir, tlsca.ClientKeyFile)); err != nil {
			return err
		}
		fmt.Fprintf(out, "issued a TLS client certificate for %s in %s\n", a.ID, dir)
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// ensureJetStreamKey creates the embedded server's encryption key at init,
// so that it can be backed up before the first start.
func ensureJetStreamKey(data string, out io.Writer) error {
	path := filepath.Join(layout.BrokerKeys(data), natsserver.KeyFile)
	_, statErr := os.Stat(path)
	if _, err := natsserver.EnsureKey(path); err != nil {
		return err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		fmt.Fprintf(out, "created the JetStream encryption key %s (mode 0600): back it up, the streams cannot be read without it\n", path)
	}
	return nil
}

// hostList collects a repeated or comma-separated --tls-host.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*h = append(*h, s)
		}
	}
	return nil
}
