// Package brokertest is test support: it runs a real embedded NATS server,
// or provisions a whole deployment and starts the real broker on it, in a
// test's temporary folders on 127.0.0.1 with random ports, and stops them
// when the test ends.
//
// Only _test.go files import this package. It links the broker's service,
// NATS server, policy engine and agency SDK, which no program but the broker
// daemon may carry.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
	"github.com/sekretessbroker/sekretessbroker/broker/policy/inputschema"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// ShutdownTimeout is how long the cleanup waits for a broker to stop.
// It is generous: the test machines are small and busy.
const ShutdownTimeout = defaults.ShutdownTimeout

// ServerOption changes the options of the server RunJetStream starts.
type ServerOption func(*server.Options)

// StoreDir keeps JetStream's files in dir instead of a new temporary folder,
// so that a test can stop the server and start another on the same store.
func StoreDir(dir string) ServerOption {
	return func(o *server.Options) { o.StoreDir = dir }
}

// ServerName names the server, as its log lines and JetStream's meta data show.
func ServerName(name string) ServerOption {
	return func(o *server.Options) { o.ServerName = name }
}

// RunJetStream starts a plain embedded NATS server with JetStream on a
// random 127.0.0.1 port, its store in t.TempDir(), and returns it with its
// client URL once it accepts connections. The server is shut down, and its
// shutdown awaited, when the test ends.
func RunJetStream(t testing.TB, opts ...ServerOption) (*server.Server, string) {
	t.Helper()
	o := serverOptions(opts)
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	ns, err := startServer(o)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns, ns.ClientURL()
}

// StartJetStream is RunJetStream for examples, which have no testing.TB:
// its store is a new temporary folder, and stop shuts the server down,
// awaits it and removes the folder.
func StartJetStream(opts ...ServerOption) (url string, stop func(), err error) {
	o := serverOptions(opts)
	tmp := "" // the store this call made, and stop removes
	if o.StoreDir == "" {
		if tmp, err = os.MkdirTemp("", "brokertest"); err != nil {
			return "", nil, fmt.Errorf("brokertest: %w", err)
		}
		o.StoreDir = tmp
	}
	ns, err := startServer(o)
	if err != nil {
		if tmp != "" {
			os.RemoveAll(tmp)
		}
		return "", nil, fmt.Errorf("brokertest: %w", err)
	}
	return ns.ClientURL(), func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		if tmp != "" {
			os.RemoveAll(tmp)
		}
	}, nil
}

func serverOptions(opts []ServerOption) *server.Options {
	o := &server.Options{
		ServerName: "brokertest", Host: "127.0.0.1", Port: -1,
		JetStream: true, NoSigs: true, NoLog: true,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// startServer starts a server with o and waits until it accepts connections.
func startServer(o *server.Options) (*server.Server, error) {
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(defaults.ServerReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("the NATS server accepted no connections within %v; the machine may be overloaded", defaults.ServerReadyTimeout)
	}
	return ns, nil
}

// JetStream connects to the server at url with opts and returns a JetStream
// context on the connection, which is closed when the test ends.
func JetStream(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("brokertest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return js
}

// The demo agencies' ids, as "brokerctl demo" enrols them.
const (
	Police = "polisen-syd"
	School = "rosengard-skola"
	Social = "soc-malmo"
)

// DemoAgencies returns the specs of the demo agencies with the given ids,
// in the order given, or of all three (the police, a municipal school and
// the social services) when no id is given. It panics on an unknown id,
// which is a mistake in the test.
func DemoAgencies(ids ...string) []provision.AgencySpec {
	all := []provision.AgencySpec{
		{ID: Police, Kind: directory.KindPolice, Name: "Polisen Malmö Syd"},
		{ID: School, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Rosengårdsskolan"},
		{ID: Social, Kind: directory.KindSocialServices, Name: "Socialtjänsten Malmö"},
	}
	if len(ids) == 0 {
		return all
	}
	var out []provision.AgencySpec
	for _, id := range ids {
		i := slices.IndexFunc(all, func(s provision.AgencySpec) bool { return s.ID == id })
		if i < 0 {
			panic("brokertest: no demo agency " + id)
		}
		out = append(out, all[i])
	}
	return out
}

// Options say what NewDeployment provisions.
type Options struct {
	// Agencies are enrolled in this order; nil means DemoAgencies.
	Agencies []provision.AgencySpec
	// Extra agencies are enrolled after Agencies.
	Extra []provision.AgencySpec
	// KeysInData keeps each agency's keys in the broker's data folder
	// (provision.NewAgency, layout.AgencyKeys), as single-machine
	// deployments do, instead of in homes apart (layout.AgencyHomes).
	KeysInData bool
	// TLS creates the private CA in layout.TLS, a client certificate in
	// every agency's key folder, and makes Start require mutual TLS.
	TLS bool
	// Auditor creates an age identity whose recipient the broker encrypts
	// the audit log's personal fields to (keys.AuditorsFile).
	Auditor bool
}

// Deployment is a provisioned broker data folder with its agencies.
type Deployment struct {
	// Data is the broker's data folder.
	Data string
	// Agencies is the folder of agency homes; empty with Options.KeysInData.
	Agencies string
	// Auditor is the audit log's auditor, when Options.Auditor asked for one.
	Auditor *age.X25519Identity
	// CA is the private CA, when Options.TLS asked for one.
	CA *tlsca.CA

	url    string      // the NATS URL of the last broker Start started
	inputs *inputCheck // with NewDeployment: checks the policy inputs
}

// NewDeployment provisions a broker data folder and its agencies in
// temporary folders of t, as brokerctl init, agency new and tls init do.
func NewDeployment(t testing.TB, opts Options) *Deployment {
	t.Helper()
	d, err := Provision(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	d.inputs = newInputCheck(t)
	return d
}

// inputCheck checks every input the broker builds against
// policies/input.schema.json: it must match, or be denied for a problem with
// the input itself (inputschema.CheckDecision). The broker's workers call
// observe; the errors are reported when the test ends.
type inputCheck struct {
	schema *inputschema.Schema
	mu     sync.Mutex
	n      int
	errs   []error
}

func newInputCheck(t testing.TB) *inputCheck {
	t.Helper()
	dir, err := PolicyDir()
	if err != nil {
		t.Fatal(err)
	}
	s, err := inputschema.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := &inputCheck{schema: s}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, err := range c.errs {
			t.Errorf("brokertest: an input the broker built: %v", err)
		}
	})
	return c
}

func (c *inputCheck) observe(input map[string]any, d policy.Decision) {
	err := c.schema.CheckDecision(input, d.Allow, d.Reasons)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

// InputsChecked returns how many policy inputs of the brokers started on d
// have been checked against the input schema so far.
func (d *Deployment) InputsChecked() int {
	if d.inputs == nil {
		return 0
	}
	d.inputs.mu.Lock()
	defer d.inputs.mu.Unlock()
	return d.inputs.n
}

// Provision is NewDeployment for examples, which have no testing.TB: it
// provisions the deployment in root, which the caller removes.
func Provision(root string, opts Options) (*Deployment, error) {
	d := &Deployment{Data: filepath.Join(root, "data")}
	if !opts.KeysInData {
		d.Agencies = layout.AgencyHomes(d.Data)
	}
	if _, err := provision.Init(d.Data); err != nil {
		return nil, fmt.Errorf("brokertest: %w", err)
	}
	specs := opts.Agencies
	if specs == nil {
		specs = DemoAgencies()
	}
	specs = append(append([]provision.AgencySpec(nil), specs...), opts.Extra...)
	for _, s := range specs {
		var err error
		if opts.KeysInData {
			_, err = provision.NewAgency(d.Data, s)
		} else {
			_, err = provision.AddAgency(d.Data, d.Agencies, s)
		}
		if err != nil {
			return nil, fmt.Errorf("brokertest: %w", err)
		}
	}
	if opts.Auditor {
		var err error
		if d.Auditor, err = age.GenerateX25519Identity(); err != nil {
			return nil, fmt.Errorf("brokertest: auditor: %w", err)
		}
		file := filepath.Join(layout.BrokerKeys(d.Data), keys.AuditorsFile)
		// The comment line is as operators write the file; the broker must skip it.
		auditors := "# the supervisor's auditor key\n" + d.Auditor.Recipient().String() + "\n"
		if err := os.WriteFile(file, []byte(auditors), 0o644); err != nil {
			return nil, fmt.Errorf("brokertest: auditor: %w", err)
		}
	}
	if opts.TLS {
		var err error
		if d.CA, err = tlsca.Init(layout.TLS(d.Data), nil); err != nil {
			return nil, fmt.Errorf("brokertest: %w", err)
		}
		for _, s := range specs {
			p, err := d.CA.IssueClient(s.ID)
			if err != nil {
				return nil, fmt.Errorf("brokertest: %w", err)
			}
			home := d.Home(s.ID)
			if err := p.Write(filepath.Join(home, tlsca.ClientCertFile), filepath.Join(home, tlsca.ClientKeyFile)); err != nil {
				return nil, fmt.Errorf("brokertest: %w", err)
			}
		}
	}
	return d, nil
}

// Home returns the folder of agency id's keys.
func (d *Deployment) Home(id string) string {
	if d.Agencies == "" {
		return layout.AgencyKeys(d.Data, id)
	}
	return layout.AgencyHome(d.Agencies, id)
}

// Directory loads the deployment's agency directory.
func (d *Deployment) Directory(t testing.TB) *directory.Directory {
	t.Helper()
	dir, err := directory.Load(layout.Directory(d.Data))
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return dir
}

// Config returns the broker's configuration for the deployment: its data
// folder, the repository's policies, the embedded NATS server on a random
// 127.0.0.1 port, mutual TLS when the deployment has a CA, and warnings
// logged to stderr. Tests that stop and restart the broker themselves start
// it with this configuration.
func (d *Deployment) Config(t testing.TB) service.Config {
	t.Helper()
	cfg, err := d.config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (d *Deployment) config() (service.Config, error) {
	policies, err := PolicyDir()
	if err != nil {
		return service.Config{}, fmt.Errorf("brokertest: %w", err)
	}
	cfg := service.Config{
		DataDir: d.Data, PolicyDir: policies, NATSListen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if d.inputs != nil {
		cfg.PolicyObserve = d.inputs.observe
	}
	if d.CA != nil {
		cfg.TLSCert = service.TLSPath(d.Data, tlsca.ServerCertFile)
		cfg.TLSKey = service.TLSPath(d.Data, tlsca.ServerKeyFile)
		cfg.TLSClientCA = service.TLSPath(d.Data, tlsca.CAFile)
	}
	return cfg, nil
}

// Start starts the real broker on the deployment with Config, changed by
// mod if mod is not nil. The broker is shut down when the test ends; a
// failed shutdown fails the test.
func (d *Deployment) Start(t testing.TB, mod func(*service.Config)) *service.Service {
	t.Helper()
	svc, err := d.Launch(context.Background(), mod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			t.Errorf("brokertest: shutdown: %v", err)
		}
	})
	return svc
}

// Launch is Start for examples, which have no testing.TB: the caller shuts
// the broker down.
func (d *Deployment) Launch(ctx context.Context, mod func(*service.Config)) (*service.Service, error) {
	cfg, err := d.config()
	if err != nil {
		return nil, err
	}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := service.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("brokertest: start the broker: %w", err)
	}
	d.url = svc.NATSURL()
	return svc, nil
}

// AgencyConfig returns the agency SDK's configuration for agency id: its
// identity, the directory, the broker last started and, with TLS, the CA and
// the agency's certificate.
func (d *Deployment) AgencyConfig(t testing.TB, id string) agency.Config {
	t.Helper()
	if d.url == "" {
		t.Fatal("brokertest: Dial before Start: no broker to connect to")
	}
	ident, err := agency.LoadIdentity(d.Home(id), id)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	cfg := agency.Config{URL: d.url, Identity: ident, Directory: d.Directory(t)}
	if d.CA != nil {
		cfg.TLSCA = service.TLSPath(d.Data, tlsca.CAFile)
		cfg.TLSCert = filepath.Join(d.Home(id), tlsca.ClientCertFile)
		cfg.TLSKey = filepath.Join(d.Home(id), tlsca.ClientKeyFile)
	}
	return cfg
}

// Dial connects agency id to the broker Start started last, and closes the
// connection when the test ends.
func (d *Deployment) Dial(t testing.TB, id string) *agency.Client {
	t.Helper()
	cfg := d.AgencyConfig(t, id)
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	c, err := agency.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("brokertest: dial %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// PolicyDir returns the repository's policies folder: "policies" beside the
// go.mod found by walking up from the working directory, which go test sets
// to the package's folder.
func PolicyDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("policies: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "policies"), nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("policies: %w", err)
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("policies: no go.mod above the working directory; run the tests inside the module")
		}
		dir = up
	}
}
