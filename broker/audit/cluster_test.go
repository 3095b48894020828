package audit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
)

// freePorts reserves n loopback ports for cluster routes, which must be
// known before the servers start.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// startCluster starts three NATS servers with JetStream, routed to each other
// on loopback.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var servers []*server.Server
	for i, p := range ports {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "sekretess", Host: "127.0.0.1", Port: p},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		servers = append(servers, ns)
	}
	for _, ns := range servers {
		if !ns.ReadyForConnections(60 * time.Second) {
			t.Fatal("cluster node not ready")
		}
	}
	return servers
}

// TestClusterR3LosesNothing appends to an R3 audit stream on a three-node
// cluster and stops the stream's leader midway: every record the writer was
// told is stored is in the log, once, and the log verifies.
func TestClusterR3LosesNothing(t *testing.T) {
	servers := startCluster(t)
	var urls []string
	for _, ns := range servers {
		urls = append(urls, ns.ClientURL())
	}
	js := connect(t, strings.Join(urls, ","))
	k := newKeyPair(t)

	var l *Log
	// The cluster elects its JetStream meta leader first: opening is retried
	// until it succeeds.
	openCtx, cancelOpen := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelOpen()
	var err error
	if poll.Until(openCtx, func() bool {
		ctx, cancel := context.WithTimeout(openCtx, 3*time.Second)
		defer cancel()
		l, err = Open(ctx, Config{JetStream: js, Replicas: 3, Signer: k.signer,
			CheckpointInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		return err == nil
	}) != nil {
		t.Fatalf("open on the cluster: %v", err)
	}
	t.Cleanup(func() { l.Close() })

	const n = 300
	var acked atomic.Int64
	third := make(chan struct{}) // closed once a third of the records are stored
	done := make(chan struct{})
	// The writer's context bounds it; it is stopped and awaited before the
	// log closes.
	wctx, cancelWriter := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(func() { cancelWriter(); <-done })
	go func() {
		defer close(done)
		for i := 1; i <= n; i++ {
			// Retrying the same inbound message is safe: the stream dedupes it.
			var err error
			if poll.Until(wctx, func() bool {
				ctx, cancel := context.WithTimeout(wctx, 3*time.Second)
				defer cancel()
				_, err = l.Append(ctx, rec(i, time.Now()), nil)
				return err == nil
			}) != nil {
				t.Errorf("append %d: %v", i, err)
				return
			}
			if acked.Add(1) == n/3 {
				close(third)
			}
		}
	}()
	select {
	case <-third:
	case <-done:
		t.Fatalf("writer stopped after %d records", acked.Load())
	}
	s, err := js.Stream(ctxT(t), bus.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	for _, ns := range servers {
		if ns.Name() == info.Cluster.Leader {
			ns.Shutdown()
			t.Logf("stopped %s, the audit stream's leader, after %d records", ns.Name(), acked.Load())
		}
	}
	<-done
	if acked.Load() != n {
		t.Fatalf("writer stuck after %d records", acked.Load())
	}

	var ex *Export
	// The stream may still be electing its new leader: reading is retried.
	readCtx, cancelRead := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancelRead()
	if poll.Until(readCtx, func() bool {
		ex, err = ReadStream(readCtx, js)
		return err == nil
	}) != nil {
		t.Fatal(err)
	}
	seen := map[uint64]int{}
	for _, r := range ex.Records {
		e, err := ParseEntry(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		seen[e.Decision.InboundSeq]++
	}
	for i := uint64(1); i <= n; i++ {
		if seen[i] != 1 {
			t.Errorf("inbound %d has %d records", i, seen[i])
		}
	}
	if len(ex.Records) != n {
		t.Fatalf("%d records, want %d", len(ex.Records), n)
	}
	if _, err := l.Checkpoint(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ex, err = ReadStream(ctxT(t), js); err != nil {
		t.Fatal(err)
	}
	if rep, err := Verify(ex, k.verifier); err != nil || rep.Uncovered != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
