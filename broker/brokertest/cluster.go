package brokertest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/natsserver"
)

// Users lets the directory's parties log in with their nkeys and the
// permissions the broker's own server gives them (natsserver.Users).
func Users(d *directory.Directory) ServerOption {
	return func(o *server.Options) { o.Nkeys = natsserver.Users(d) }
}

// Account is the JetStream account of a server without accounts, in which
// the broker's streams live: the name its leader queries take.
const Account = server.DEFAULT_GLOBAL_ACCOUNT

// Cluster is a JetStream cluster of embedded NATS servers on 127.0.0.1,
// joined by routes, each with its own store in a temporary folder of the
// test. A node can be stopped and started again on the same ports and
// store, so that clients reconnect to it and it catches up with the others.
type Cluster struct {
	t     testing.TB
	opts  []*server.Options
	mu    sync.Mutex
	nodes []*server.Server // nil for a node that is stopped
}

// RunCluster starts n nodes (n ≥ 3 for replicated streams) with opts, and
// returns once JetStream's meta group has a leader and every node is
// current. The nodes are shut down when the test ends.
func RunCluster(t testing.TB, n int, opts ...ServerOption) *Cluster {
	t.Helper()
	c := &Cluster{t: t, nodes: make([]*server.Server, n)}
	var routes []*url.URL
	ports := make([][2]int, n)
	for i := range ports {
		ports[i] = [2]int{freeTCPPort(t), freeTCPPort(t)}
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", ports[i][1])})
	}
	for i := range n {
		o := serverOptions(opts)
		o.ServerName = fmt.Sprintf("node-%d", i+1)
		o.Port = ports[i][0]
		o.StoreDir = t.TempDir()
		o.Cluster.Name = "sekretess"
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[i][1]
		o.Routes = routes
		c.opts = append(c.opts, o)
	}
	// Started together: a node waits for its routes before it is ready.
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- c.start(i) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("brokertest: %v", err)
		}
	}
	t.Cleanup(func() {
		for i := range n {
			c.Stop(i)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), defaults.ServerReadyTimeout)
	defer cancel()
	if err := c.WaitCurrent(ctx); err != nil {
		t.Fatalf("brokertest: the cluster did not form: %v", err)
	}
	return c
}

// freeTCPPort reserves a free loopback port for a while: the port is free
// again when the node binds it, and stays the node's across restarts.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) start(i int) error {
	o := *c.opts[i]
	ns, err := startServer(&o)
	if err != nil {
		return fmt.Errorf("node %d: %w", i+1, err)
	}
	c.mu.Lock()
	c.nodes[i] = ns
	c.mu.Unlock()
	return nil
}

// Len returns the number of nodes, running or not.
func (c *Cluster) Len() int { return len(c.opts) }

// Node returns node i, or nil while it is stopped.
func (c *Cluster) Node(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// URL returns the client URLs of every node, node i first, comma-separated
// as nats.Connect takes them: a client prefers node i and finds the others
// when it is gone.
func (c *Cluster) URL(i int) string {
	var urls []string
	for k := range c.opts {
		j := (i + k) % len(c.opts)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", c.opts[j].Port))
	}
	return strings.Join(urls, ",")
}

// Stop shuts node i down, if it runs, and waits until it has.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	ns := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// Restart starts node i again, on its ports and store, once it was stopped.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Node(i) != nil {
		c.t.Fatalf("brokertest: node %d runs already", i+1)
	}
	if err := c.start(i); err != nil {
		c.t.Fatalf("brokertest: restart: %v", err)
	}
}

// StreamLeader returns the index of the node leading stream, or -1.
func (c *Cluster) StreamLeader(stream string) int {
	return c.find(func(ns *server.Server) bool { return ns.JetStreamIsStreamLeader(Account, stream) })
}

// ConsumerLeader returns the index of the node leading the consumer, or -1.
func (c *Cluster) ConsumerLeader(stream, consumer string) int {
	return c.find(func(ns *server.Server) bool { return ns.JetStreamIsConsumerLeader(Account, stream, consumer) })
}

func (c *Cluster) find(f func(*server.Server) bool) int {
	for i := range c.opts {
		if ns := c.Node(i); ns != nil && f(ns) {
			return i
		}
	}
	return -1
}

// WaitCurrent waits until JetStream's meta group has a leader and every
// running node is current with it, or ctx ends.
func (c *Cluster) WaitCurrent(ctx context.Context) error {
	return c.wait(ctx, func() bool {
		leader := false
		for i := range c.opts {
			ns := c.Node(i)
			if ns == nil {
				continue
			}
			if !ns.JetStreamIsClustered() || !ns.JetStreamIsCurrent() {
				return false
			}
			leader = leader || ns.JetStreamIsLeader()
		}
		return leader
	})
}

// WaitLeader waits until leader returns a running node, and returns it.
func (c *Cluster) WaitLeader(ctx context.Context, leader func() int) (int, error) {
	i := -1
	err := c.wait(ctx, func() bool { i = leader(); return i >= 0 })
	return i, err
}

// wait polls cond until it holds or ctx ends: the servers announce none of
// these states.
func (c *Cluster) wait(ctx context.Context, cond func() bool) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}
