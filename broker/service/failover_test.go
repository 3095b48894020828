package service_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
	"github.com/sekretessbroker/sekretessbroker/broker/brokertest/poll"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

// failoverBackstop bounds the longest pause in decisions a fault may cause.
// It is a backstop against a broker that never recovers, far above what a
// failover takes: the measured figure is printed, not asserted.
const failoverBackstop = 60 * time.Second

// publishPatience bounds how long a sender sends one message again: within
// the inbound stream's dedupe window (two minutes), so that it is stored once.
const publishPatience = 90 * time.Second

// failoverPatience bounds each wait of TestFailover: for the load to run,
// for decisions to resume, for every message to arrive. Generous, as the
// test machines are small and busy.
const failoverPatience = 3 * time.Minute

// TestFailover runs a three-node cluster with two brokers, R3 streams and a
// steady load from two senders, and injects three faults in turn: the node
// leading the brokers' shared consumer stops, the node leading the audit
// stream stops, and one broker dies with messages in hand. After each it
// counts what was sent, decided, delivered, lost and duplicated, and the
// longest pause in decisions, printed as
//
//	failover: fault=<name> gap_seconds=<float> sent=<n> lost=<n> duplicated=<n>
//
// Nothing may be lost or duplicated. The brokers start at the same moment on
// the fresh cluster, as two brokers of a deployment do.
func TestFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster through three faults")
	}
	dep := brokertest.NewDeployment(t, brokertest.Options{Agencies: brokertest.DemoAgencies(brokertest.School, brokertest.Social)})
	dir := dep.Directory(t)
	cl := brokertest.RunCluster(t, 3, brokertest.Users(dir))

	brokers := make([]*service.Service, 2)
	startBroker := func(i int) (*service.Service, error) {
		cfg := dep.Config(t)
		cfg.NATSURL, cfg.Replicas = cl.URL(i), 3
		ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
		defer cancel()
		return service.Start(ctx, cfg)
	}
	// Both at once on a fresh cluster: each creates the streams, consumers
	// and buckets the other creates too.
	var wg sync.WaitGroup
	errs := make([]error, len(brokers))
	for i := range brokers {
		wg.Go(func() { brokers[i], errs[i] = startBroker(i) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, b := range brokers {
			if b == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), brokertest.ShutdownTimeout)
			b.Shutdown(ctx)
			cancel()
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("two brokers started together on a fresh cluster: %v", err)
	}

	dial := func(id string, node int) *agency.Client {
		ident, err := agency.LoadIdentity(dep.Home(id), id)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
		defer cancel()
		c, err := agency.Dial(ctx, agency.Config{URL: cl.URL(node), Identity: ident, Directory: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	senders := []*agency.Client{dial(school, 0), dial(school, 1)}
	rcv := newReceiver(dial(social, 2))
	defer rcv.stop()

	_, js, err := service.ConnectAsBroker(dep.Data, cl.URL(0))
	if err != nil {
		t.Fatal(err)
	}
	auditStream, err := js.Stream(context.Background(), bus.StreamAudit)
	if err != nil {
		t.Fatal(err)
	}

	var traffic *load
	faults := []struct {
		name string
		// inject causes the fault and returns what puts things right again.
		inject func() (restore func())
	}{
		{"consumer_leader", func() func() {
			i := waitLeader(t, cl, func() int { return cl.ConsumerLeader(bus.StreamIn, bus.BrokerConsumer) })
			cl.Kill(i)
			return func() { cl.Restart(i) }
		}},
		{"audit_leader", func() func() {
			i := waitLeader(t, cl, func() int { return cl.StreamLeader(bus.StreamAudit) })
			cl.Kill(i)
			return func() { cl.Restart(i) }
		}},
		{"broker", func() func() {
			// A burst, and the broker dies with messages in hand: pulled,
			// some decided, none acknowledged. The others wait for the ack
			// wait to pass, and for another broker to take them over.
			burst := make(chan struct{})
			go func() { traffic.burst(senders[0], 40); close(burst) }()
			ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
			defer cancel()
			if poll.Until(ctx, func() bool { return testutil.ToFloat64(brokers[0].Metrics.InFlight) > 0 }) != nil {
				t.Log("broker: the broker held no message when it died")
			}
			brokers[0].Crash()
			<-burst
			brokers[0] = nil
			return func() {
				b, err := startBroker(0)
				if err != nil {
					t.Fatalf("broker restart: %v", err)
				}
				brokers[0] = b
			}
		}},
	}
	for _, f := range faults {
		ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
		if err := cl.WaitCurrent(ctx); err != nil {
			t.Fatalf("%s: cluster not current before the fault: %v", f.name, err)
		}
		first := lastSeq(ctx, t, auditStream) + 1
		traffic = startLoad(senders, 50*time.Millisecond)
		// Some decisions first, so that the fault strikes a broker at work.
		waitSeq(ctx, t, auditStream, first+30, f.name+": decisions before the fault")
		faultAt := time.Now()
		restore := f.inject()
		waitSeq(ctx, t, auditStream, lastSeq(ctx, t, auditStream)+100, f.name+": decisions after the fault")
		// Under load until everything sent so far has arrived, so that a
		// pause in decisions is one of the broker, not of the load.
		if err := rcv.await(ctx, traffic.sentSoFar()); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
		sent := traffic.stop(t)
		if err := rcv.await(ctx, sent); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
		res := measure(ctx, t, auditStream, first, faultAt, sent, rcv)
		cancel()
		fmt.Printf("failover: fault=%s gap_seconds=%.2f sent=%d lost=%d duplicated=%d\n", f.name, res.gap.Seconds(), len(sent), res.lost, res.duplicated)
		t.Logf("%s: decided %d, delivered %d, longest wait of one message %.2fs", f.name, res.decided, res.delivered, res.maxWait.Seconds())
		if res.lost != 0 || res.duplicated != 0 {
			t.Errorf("%s: %d lost, %d duplicated", f.name, res.lost, res.duplicated)
		}
		if res.gap > failoverBackstop {
			t.Errorf("%s: no decision for %v, over the backstop of %v", f.name, res.gap, failoverBackstop)
		}
		restore()
	}
}

func waitLeader(t *testing.T, cl *brokertest.Cluster, leader func() int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failoverPatience)
	defer cancel()
	i, err := cl.WaitLeader(ctx, leader)
	if err != nil {
		t.Fatalf("no leader: %v", err)
	}
	return i
}

// load is senders sending concern reports, each at most one per interval,
// until stopped. A publish that gets no answer is sent again, the same
// envelope under the same id, until the inbound stream stores it: the stream
// dedupes it, so a message is sent once however often it is retried.
type load struct {
	quit chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent map[string]time.Time // message id → when the inbound stream stored it
	err  error
}

func startLoad(senders []*agency.Client, every time.Duration) *load {
	l := &load{quit: make(chan struct{}), sent: map[string]time.Time{}}
	for si, c := range senders {
		l.wg.Go(func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-l.quit:
					return
				case <-tick.C:
				}
				raw, id, err := c.Seal(agency.Message{To: social, Kind: agency.KindConcernReport,
					Metadata: concern(fmt.Sprintf("elev-%d-%d", si, n)), Payload: []byte("x")})
				if err != nil {
					l.fail(err)
					return
				}
				if !l.publish(c, raw, id) {
					return
				}
			}
		})
	}
	return l
}

// burst sends n messages from c at once, and returns once they are stored.
func (l *load) burst(c *agency.Client, n int) {
	var wg sync.WaitGroup
	for k := range n {
		wg.Go(func() {
			raw, id, err := c.Seal(agency.Message{To: social, Kind: agency.KindConcernReport,
				Metadata: concern(fmt.Sprintf("burst-%d", k)), Payload: []byte("x")})
			if err != nil {
				l.fail(err)
				return
			}
			l.publish(c, raw, id)
		})
	}
	wg.Wait()
}

// publish sends raw until it is stored; it gives up only when the load stops
// with it unsent, which is then not counted as sent.
func (l *load) publish(c *agency.Client, raw []byte, id string) bool {
	deadline := time.Now().Add(publishPatience)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), defaults.CallTimeout)
		err := c.Publish(ctx, raw, id)
		cancel()
		if err == nil {
			l.mu.Lock()
			l.sent[id] = time.Now()
			l.mu.Unlock()
			return true
		}
		if time.Now().After(deadline) {
			l.fail(fmt.Errorf("message %s not stored in %v: %w", id, publishPatience, err))
			return false
		}
		// Maybe stored after all: it is sent again, and deduplicated if so,
		// even once the load is over.
		pause := time.NewTimer(defaults.RetryMin)
		<-pause.C
	}
}

func (l *load) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = errors.Join(l.err, err)
}

// sentSoFar returns the messages stored so far.
func (l *load) sentSoFar() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.sent)
}

// stop ends the load and returns what was sent.
func (l *load) stop(t *testing.T) map[string]time.Time {
	t.Helper()
	close(l.quit)
	l.wg.Wait()
	if l.err != nil {
		t.Fatalf("load: %v", l.err)
	}
	return l.sent
}

// receiver reads and acknowledges the recipient's deliveries. A delivery
// that arrives again after the server confirmed its acknowledgement was
// stored twice: a duplicate. One whose acknowledgement was not confirmed
// is delivered again by design, and is not.
type receiver struct {
	c      *agency.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	got        map[string]time.Time // first arrival of each message id
	acked      map[string]bool
	duplicated int
	arrived    chan struct{} // closed and replaced on every new message id
}

func newReceiver(c *agency.Client) *receiver {
	ctx, cancel := context.WithCancel(context.Background())
	r := &receiver{c: c, cancel: cancel, done: make(chan struct{}), got: map[string]time.Time{}, acked: map[string]bool{}, arrived: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			d, err := c.Next(ctx)
			if err != nil {
				continue // a node away, or the end: Next is tried again
			}
			acked := d.Ack() == nil
			r.mu.Lock()
			if r.acked[d.ID] {
				r.duplicated++
			}
			r.acked[d.ID] = r.acked[d.ID] || acked
			if _, ok := r.got[d.ID]; !ok {
				r.got[d.ID] = time.Now()
				close(r.arrived)
				r.arrived = make(chan struct{})
			}
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *receiver) stop() { r.cancel(); <-r.done }

// await waits until every message in sent has arrived, or ctx ends.
func (r *receiver) await(ctx context.Context, sent map[string]time.Time) error {
	for {
		r.mu.Lock()
		missing := 0
		for id := range sent {
			if _, ok := r.got[id]; !ok {
				missing++
			}
		}
		arrived := r.arrived
		r.mu.Unlock()
		if missing == 0 {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d messages sent never arrived: %w", missing, len(sent), ctx.Err())
		}
	}
}

type failoverResult struct {
	decided, delivered, lost, duplicated int
	gap, maxWait                         time.Duration
}

// measure reads the audit records from first on and counts, for the
// messages sent: decided (recorded), delivered, lost (sent and never
// delivered), duplicated (recorded or delivered twice). The gap is the
// longest time between two decisions, from the last before the fault on.
func measure(ctx context.Context, t *testing.T, s jetstream.Stream, first uint64, faultAt time.Time, sent map[string]time.Time, rcv *receiver) failoverResult {
	t.Helper()
	var res failoverResult
	recorded := map[string]int{}
	var times []time.Time
	last := lastSeq(ctx, t, s)
	next := first
	// Read again from where it stopped while a node is away.
	if err := poll.Until(ctx, func() bool {
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: next})
		if err != nil {
			return false
		}
		for next <= last {
			m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
			if err != nil {
				return false
			}
			md, err := m.Metadata()
			if err != nil {
				t.Error(err)
				return true
			}
			next = md.Sequence.Stream + 1
			e, err := audit.ParseEntry(m.Data())
			if err != nil {
				t.Error(err)
				return true
			}
			id := e.Decision.MessageID
			if _, ok := sent[id]; !ok {
				continue
			}
			recorded[id]++
			times = append(times, md.Timestamp)
			if w := md.Timestamp.Sub(sent[id]); w > res.maxWait {
				res.maxWait = w
			}
		}
		return true
	}); err != nil {
		t.Fatalf("reading the audit log from %d: %v", next, err)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(times); i++ {
		if times[i].After(faultAt) {
			res.gap = max(res.gap, times[i].Sub(times[i-1]))
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for id := range sent {
		if recorded[id] > 0 {
			res.decided++
		}
		res.duplicated += max(recorded[id]-1, 0)
		if _, ok := rcv.got[id]; ok {
			res.delivered++
		} else {
			res.lost++
		}
	}
	res.duplicated += rcv.duplicated
	rcv.duplicated = 0
	return res
}

// lastSeq returns the audit stream's last sequence, asking again while its
// leader moves.
func lastSeq(ctx context.Context, t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	var last uint64
	if err := poll.Until(ctx, func() bool {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		info, err := s.Info(ictx)
		if err != nil {
			return false
		}
		last = info.State.LastSeq
		return true
	}); err != nil {
		t.Fatalf("audit stream info: %v", err)
	}
	return last
}

// waitSeq waits until the audit stream holds record seq.
func waitSeq(ctx context.Context, t *testing.T, s jetstream.Stream, seq uint64, what string) {
	t.Helper()
	if err := poll.Until(ctx, func() bool {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		info, err := s.Info(ictx)
		return err == nil && info.State.LastSeq >= seq
	}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
