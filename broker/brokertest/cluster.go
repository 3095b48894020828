package brokertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
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
// each with its own store in a temporary folder of the test. Every
// connection to a node, a client's or another node's route, passes through a
// loopback proxy of the test, so that Kill can cut a node off before it stops:
// its peers and clients lose it as they would lose a crashed machine, with
// no leader handing over and no pull request told to go elsewhere (an
// orderly shutdown does both). A killed node starts again on the same ports
// and store, so that clients reconnect to it and it catches up.
type Cluster struct {
	t    testing.TB
	opts []*server.Options
	// front[i] is node i's client address; links[i] are node i's proxies:
	// its clients' and every route to it or from it.
	front []string
	links [][]*proxy
	mu    sync.Mutex
	nodes []*server.Server // nil for a node that is stopped
}

// RunCluster starts n nodes (n ≥ 3 for replicated streams) with opts, and
// returns once JetStream's meta group has a leader and every node is
// current. The nodes are shut down when the test ends.
func RunCluster(t testing.TB, n int, opts ...ServerOption) *Cluster {
	t.Helper()
	c := &Cluster{t: t, nodes: make([]*server.Server, n), links: make([][]*proxy, n)}
	// Every port is chosen while the others are still held, so that no two
	// are the same. The nodes' own ports are let go just before the nodes
	// bind them; each proxy keeps its listener for the whole test, so that
	// no other socket can take its port while its node is killed.
	var held []net.Listener
	hold := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("brokertest: %v", err)
		}
		held = append(held, ln)
		return ln
	}
	addr := func() string { return hold().Addr().String() }
	newProxy := func(target string) *proxy {
		ln := hold()
		held = held[:len(held)-1] // the proxy's own from now on
		p := &proxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
		t.Cleanup(p.close)
		return p
	}
	type node struct{ client, cluster string }
	real := make([]node, n)
	for i := range real {
		real[i] = node{addr(), addr()}
	}
	// An address nothing listens on: each node advertises it for routes, so
	// that no node learns another's own route port from gossip and dials it
	// past the proxies. Explicit routes do not need it.
	nowhere := addr()
	for i := range n {
		o := serverOptions(opts)
		o.ServerName = fmt.Sprintf("node-%d", i+1)
		o.Port = portOf(t, real[i].client)
		o.StoreDir = t.TempDir()
		o.Cluster.Name = "sekretess"
		o.Cluster.Host, o.Cluster.Port = "127.0.0.1", portOf(t, real[i].cluster)
		o.Cluster.Advertise = nowhere
		// Clients know the nodes by their proxies only.
		o.Cluster.NoAdvertise = true
		front := newProxy(real[i].client)
		c.front = append(c.front, front.addr)
		c.links[i] = append(c.links[i], front)
		for j := range n {
			if j == i {
				continue
			}
			// Node i's route to node j: cut when either is killed.
			r := newProxy(real[j].cluster)
			o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: r.addr})
			c.links[i] = append(c.links[i], r)
			c.links[j] = append(c.links[j], r)
		}
		c.opts = append(c.opts, o)
	}
	for _, ln := range held {
		ln.Close()
	}
	for i := range n {
		for _, p := range c.links[i] {
			p.serve()
		}
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
			c.Kill(i)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), defaults.ServerReadyTimeout)
	defer cancel()
	if err := c.WaitCurrent(ctx); err != nil {
		t.Fatalf("brokertest: the cluster did not form: %v", err)
	}
	return c
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return a.Port
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
	for k := range c.front {
		urls = append(urls, "nats://"+c.front[(i+k)%len(c.front)])
	}
	return strings.Join(urls, ",")
}

// Kill cuts node i off from its clients and the other nodes at once, as a
// crash would, then shuts it down and waits until it has.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	ns := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	for _, p := range c.links[i] {
		p.stop()
	}
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// Restart starts node i again, on its ports and store, once it was killed.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	if c.Node(i) != nil {
		c.t.Fatalf("brokertest: node %d runs already", i+1)
	}
	for _, p := range c.links[i] {
		p.resume()
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
	// The servers announce none of these states.
	return poll.Until(ctx, func() bool {
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
	err := poll.Until(ctx, func() bool { i = leader(); return i >= 0 })
	return i, err
}

// proxy forwards every connection to addr to target. It listens on addr
// from the cluster's start to the test's end: while stopped it closes what
// it accepts at once, as a crashed machine's address would refuse it, but
// no other socket can take the port meanwhile.
type proxy struct {
	addr, target string
	ln           net.Listener

	mu      sync.Mutex
	stopped bool
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

// serve accepts connections until close.
func (p *proxy) serve() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			in, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.stopped {
				p.mu.Unlock()
				in.Close()
				continue
			}
			p.conns[in] = true
			p.wg.Add(1)
			p.mu.Unlock()
			go func() {
				defer p.wg.Done()
				p.forward(in)
			}()
		}
	}()
}

func (p *proxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(in)
		return
	}
	p.mu.Lock()
	if p.stopped { // stopped meanwhile
		p.mu.Unlock()
		p.drop(in)
		out.Close()
		return
	}
	p.conns[out] = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		io.Copy(out, in)
		out.Close()
		close(done)
	}()
	io.Copy(in, out)
	in.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// stop closes every connection through the proxy at once and refuses new
// ones until resume.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	for c := range p.conns {
		c.Close()
	}
}

// resume forwards new connections again after a stop.
func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = false
}

// close stops the proxy for good and waits for its goroutines.
func (p *proxy) close() {
	p.stop()
	p.ln.Close()
	p.wg.Wait()
}
