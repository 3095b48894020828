package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/broker/tlsca"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// TestClusterDeployment runs the deployment of deploy/: three NATS nodes
// configured by deploy/nats/node.conf with the users "brokerctl nats-config"
// generates, two brokers joining with --nats-url and streams at R3, and
// agencies on a third node, everyone over mutual TLS with the certificates
// "brokerctl init --tls" makes. Only addresses and directories differ from
// the files, because the test listens on loopback ports.
func TestClusterDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	data := t.TempDir()
	if _, err := provision.Init(data); err != nil {
		t.Fatal(err)
	}
	for _, s := range []provision.AgencySpec{
		{ID: school, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Rosengårdsskolan"},
		{ID: social, Kind: directory.KindSocialServices, Name: "Socialtjänsten Malmö"},
	} {
		if _, err := provision.NewAgency(data, s); err != nil {
			t.Fatal(err)
		}
	}
	d, err := directory.Load(layout.Directory(data))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join("..", "..", "deploy", "nats", "node.conf"))
	if err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	tlsDir := layout.TLS(data)
	ca, err := tlsca.Init(tlsDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	tlsFile := func(f string) string { return filepath.Join(tlsDir, f) }
	conf = bytes.ReplaceAll(conf, []byte("/etc/nats/tls/"), []byte(tlsDir+"/"))
	t.Setenv("JETSTREAM_KEY", rand.Text()+rand.Text())
	if err := os.WriteFile(filepath.Join(etc, "node.conf"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "auth.conf"), natsserver.AuthorizationConfig(d), 0o644); err != nil {
		t.Fatal(err)
	}

	routes := []string{freePort(t), freePort(t), freePort(t)}
	var routeURLs []*url.URL
	for _, r := range routes {
		routeURLs = append(routeURLs, &url.URL{Scheme: "nats", Host: r})
	}
	var nodes []*server.Server
	for i := range 3 {
		t.Setenv("NODE_NAME", fmt.Sprintf("nats-%d", i+1))
		opts, err := server.ProcessConfigFile(filepath.Join(etc, "node.conf"))
		if err != nil {
			t.Fatalf("deploy/nats/node.conf: %v", err)
		}
		if opts.ServerName != fmt.Sprintf("nats-%d", i+1) || len(opts.Nkeys) != len(natsserver.Users(d)) || opts.Cluster.Name != "sekretess" || !opts.JetStream {
			t.Fatalf("node.conf read as name %q, %d users, cluster %q, jetstream %v", opts.ServerName, len(opts.Nkeys), opts.Cluster.Name, opts.JetStream)
		}
		if opts.TLSConfig == nil || opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert || opts.Cluster.TLSConfig == nil || !opts.Cluster.TLSMap ||
			opts.Cluster.Username != "CN="+tlsca.RouteName || opts.JetStreamKey == "" || opts.JetStreamCipher != server.ChaCha || opts.HTTPPort != 0 {
			t.Fatalf("node.conf read as client TLS %v verify %v, route TLS %v map %v user %q, JetStream cipher %v, monitoring port %d",
				opts.TLSConfig != nil, opts.TLSConfig != nil && opts.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert, opts.Cluster.TLSConfig != nil, opts.Cluster.TLSMap, opts.Cluster.Username,
				opts.JetStreamCipher, opts.HTTPPort)
		}
		opts.Host, opts.Port = "127.0.0.1", -1
		host, port := splitPort(t, routes[i])
		opts.Cluster.Host, opts.Cluster.Port = host, port
		opts.Routes = routeURLs
		opts.StoreDir = t.TempDir()
		opts.NoLog, opts.NoSigs = true, true
		ns, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		if !ns.ReadyForConnections(60 * time.Second) {
			t.Fatal("node not ready")
		}
		nodes = append(nodes, ns)
	}
	formed, cancelFormed := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelFormed()
	if poll.Until(formed, func() bool { return nodes[0].JetStreamIsClustered() && nodes[0].JetStreamIsCurrent() }) != nil {
		t.Fatal("JetStream cluster did not form")
	}

	if nc, err := nats.Connect(nodes[2].ClientURL(), nats.RootCAs(tlsFile(tlsca.CAFile)), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a node accepted a client without a certificate")
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := func(node *server.Server) *service.Service {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var svc *service.Service
		var err error
		// The meta leader may still be settling: creating R3 streams is retried.
		if poll.Until(ctx, func() bool {
			svc, err = service.Start(ctx, service.Config{DataDir: data, PolicyDir: filepath.Join("..", "..", "policies"),
				NATSURL: node.ClientURL(), Replicas: 3, Logger: logger, TLSCA: tlsFile(tlsca.CAFile),
				TLSClientCert: tlsFile(tlsca.BrokerCertFile), TLSClientKey: tlsFile(tlsca.BrokerKeyFile)})
			return err == nil
		}) != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			svc.Shutdown(sctx)
		})
		return svc
	}
	b1, b2 := start(nodes[0]), start(nodes[1])

	dial := func(id string) *agency.Client {
		ident, err := agency.LoadIdentity(layout.AgencyKeys(data, id), id)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := ca.IssueClient(id)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(layout.AgencyKeys(data, id), tlsca.ClientCertFile), filepath.Join(layout.AgencyKeys(data, id), tlsca.ClientKeyFile)
		if err := cert.Write(certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := ctxT()
		defer cancel()
		c, err := agency.Dial(ctx, agency.Config{URL: nodes[2].ClientURL(), Identity: ident, Directory: d,
			TLSCA: tlsFile(tlsca.CAFile), TLSCert: certFile, TLSKey: keyFile})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sch, soc := dial(school), dial(social)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 40
	sent := map[string]bool{}
	for i := range n {
		id, err := sch.Send(ctx, agency.Message{To: social, Kind: "concern_report", Metadata: concern(fmt.Sprintf("elev-%d", i)), Payload: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		sent[id] = true
	}
	got := map[string]int{}
	for len(got) < n {
		dl, err := soc.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d deliveries: %v", len(got), n, err)
		}
		got[dl.ID]++
		if dl.Decision.Rule != "R-CONCERN" || !sent[dl.ID] {
			t.Fatalf("delivery %s under %q", dl.ID, dl.Decision.Rule)
		}
		dl.Ack()
	}
	nothingArrives(t, soc)
	decided := 0
	for _, b := range []*service.Service{b1, b2} {
		decided += int(testutilCount(b))
	}
	if decided != n {
		t.Fatalf("the two brokers decided %d messages, want %d", decided, n)
	}
	t.Logf("broker 1 decided %v, broker 2 %v", testutilCount(b1), testutilCount(b2))
}

func testutilCount(s *service.Service) float64 {
	return testutil.ToFloat64(s.Metrics.Decisions.WithLabelValues("delivered", "R-CONCERN"))
}

func splitPort(t *testing.T, hostport string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(hostport, ':')
	var p int
	if _, err := fmt.Sscanf(hostport[i+1:], "%d", &p); err != nil {
		t.Fatal(err)
	}
	return hostport[:i], p
}
