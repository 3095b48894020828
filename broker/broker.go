// Package broker is the enforcement pipeline: every envelope published on
// sekretess.in.<agency> is verified, decided by the sekretess policy, recorded
// in the audit log and then either delivered to its recipient or rejected,
// with a signed receipt to its sender in both cases.
//
// The inbound message is acknowledged only after its outcome is durable in the
// audit log and its delivery and receipt are stored by JetStream. A crash at
// any point leads to a redelivery, which is answered from the audit log: the
// message is neither decided twice nor lost, and deliveries are deduplicated
// by message id.
package broker

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/audit"
	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/consent"
	"github.com/sekretessbroker/sekretessbroker/broker/decision"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/envelope"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
	"github.com/sekretessbroker/sekretessbroker/broker/metrics"
	"github.com/sekretessbroker/sekretessbroker/broker/policy"
)

// AuditLog is what the pipeline needs of the audit log (an *audit.Log).
type AuditLog interface {
	// Append records a decision once its stream has stored it, and returns
	// the decision in force: rec, or the one recorded earlier for the same
	// inbound message.
	Append(ctx context.Context, rec *decision.Record, p *audit.Personal) (*decision.Record, error)
	// AppendUnclaimed records a decision as Append does, filed under its
	// inbound message only: a message refused before its id was checked, or
	// as a replay, does not hold its id.
	AppendUnclaimed(ctx context.Context, rec *decision.Record, p *audit.Personal) (*decision.Record, error)
	// Lookup returns the recorded decision of an inbound message whose
	// envelope has message id messageID ("" if none), and the decision that
	// holds that id; nil for either if there is none. Append refuses with
	// an *audit.ClaimedError a decision whose id another one holds.
	Lookup(ctx context.Context, inboundSeq uint64, messageID string) (mine, claim *decision.Record, err error)
	// ByMessage returns the decision that holds a message id, or nil
	// if it has none.
	ByMessage(ctx context.Context, messageID string) (*decision.Record, error)
	// Err reports why records cannot be appended now.
	Err() error
}

// Config configures a Broker. Every field without a default is required.
type Config struct {
	// NATS is the connection the broker uses, with permission on every
	// sekretess subject and the JetStream API.
	NATS      *nats.Conn
	Directory *directory.Source
	Policy    *policy.Engine
	Audit     AuditLog
	// SigningKey signs receipts and decision headers; its public half is the
	// directory's broker.signing_key.
	SigningKey ed25519.PrivateKey
	// Identity decrypts policy metadata; its recipient is the recipient of
	// the broker's primary key in the directory.
	Identity age.Identity
	// Identities also decrypt policy metadata: the broker's other current
	// age keys while it rotates them. Optional.
	Identities []age.Identity
	// Consent is the consent registry that claims.consent_ref is resolved
	// in; nil means the broker creates the bucket at start on NATS with
	// Replicas replicas.
	Consent *consent.Registry

	// Workers is the number of messages processed at once; zero means
	// defaults.Workers().
	Workers int
	// MaxEnvelope bounds an envelope; zero means envelope.DefaultMaxSize.
	MaxEnvelope int
	// ClockSkew is how far an envelope's created_at may lie from when the
	// inbound stream accepted it (so a message held back by an outage is not
	// refused for its age); zero means defaults.ClockSkew.
	ClockSkew time.Duration
	// Replicas of the broker's streams: 1 on a single server, 3 on a
	// cluster; zero means defaults.Replicas.
	Replicas int
	// Limits bound the broker's streams and the replay guard's bucket (In,
	// Out, Receipts, Seen and, when the broker creates it, Consent); zero
	// fields take limits.Default(MaxEnvelope).
	Limits limits.Streams
	// AgencyRate is how many messages per second one sender agency may
	// send, sustained, before its messages are refused with errcode.RateLimited
	// (see limits.DefaultAgencyRate); zero or less means no rate limit.
	AgencyRate float64
	// AgencyBurst is how many messages an agency may send at once above
	// AgencyRate; zero means limits.DefaultAgencyBurst.
	AgencyBurst int
	// PolicyPatience is how long a message the policy cannot decide is held
	// undecided before it is rejected with errcode.PolicyError; zero means
	// defaults.PolicyPatience.
	PolicyPatience time.Duration
	// Metrics, if set, are updated as messages are decided.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with every unset field that has a default filled in.
func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = defaults.Workers()
	}
	if c.MaxEnvelope <= 0 {
		c.MaxEnvelope = envelope.DefaultMaxSize
	}
	if c.ClockSkew <= 0 {
		c.ClockSkew = defaults.ClockSkew
	}
	c.Replicas = defaults.ReplicaCount(c.Replicas)
	c.Limits = c.Limits.Or(limits.Default(c.MaxEnvelope))
	if c.AgencyBurst <= 0 {
		c.AgencyBurst = limits.DefaultAgencyBurst
	}
	if c.PolicyPatience <= 0 {
		c.PolicyPatience = defaults.PolicyPatience
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// validate reports the first required field that is missing. It changes
// nothing; run withDefaults first.
func (c Config) validate() error {
	switch {
	case c.NATS == nil:
		return errors.New("broker: NATS connection is required")
	case c.Directory == nil:
		return errors.New("broker: Directory is required")
	case c.Policy == nil:
		return errors.New("broker: Policy is required")
	case c.Audit == nil:
		return errors.New("broker: Audit is required")
	case len(c.SigningKey) != ed25519.PrivateKeySize:
		return errors.New("broker: SigningKey is required")
	case c.Identity == nil:
		return errors.New("broker: Identity is required")
	}
	return nil
}

// Broker runs the pipeline.
type Broker struct {
	cfg  Config
	js   jetstream.JetStream
	rate *rateLimiter // nil without a rate limit
	held *policyHold

	mu      sync.Mutex // guards cc and stopped
	cc      jetstream.ConsumeContext
	stopped bool
	work    chan jetstream.Msg
	quit    chan struct{} // closed when the workers finish what is queued and stop
	workers sync.WaitGroup
	// base is the parent of every message's context. It is cancelled when
	// Shutdown runs out of time, so that the workers hand their messages back
	// to JetStream at once instead of outliving Shutdown.
	base   context.Context
	cancel context.CancelFunc
}

// worker handles messages until quit, then finishes the ones already queued.
func (b *Broker) worker() {
	defer b.workers.Done()
	for {
		select {
		case m := <-b.work:
			b.handle(m)
		case <-b.quit:
			for {
				select {
				case m := <-b.work:
					b.handle(m)
				default:
					return
				}
			}
		}
	}
}

// New validates cfg, creates the streams, the replay guard and every agency's
// consumers, and returns a broker ready to Start.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// A PubAck that never comes (its stream's leader died) ends the future
	// after CallTimeout, so that finish publishes again instead of waiting.
	js, err := jetstream.New(cfg.NATS, jetstream.WithPublishAsyncTimeout(defaults.CallTimeout))
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	var held func(int)
	if cfg.Metrics != nil {
		held = func(n int) { cfg.Metrics.PolicyHeld.Set(float64(n)) }
	}
	b := &Broker{cfg: cfg, js: js, rate: newRateLimiter(cfg.AgencyRate, cfg.AgencyBurst), held: newPolicyHold(cfg.PolicyPatience, held)}
	if err := b.setup(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// MaxMsgSize is the largest message the envelope streams accept by default
// (see limits.EnvelopeMsgSize), and so the least NATS payload limit.
func (c *Config) MaxMsgSize() int32 { return limits.EnvelopeMsgSize(c.MaxEnvelope) }

// setup creates or updates the streams, the brokers' consumer, the replay
// guard and the consent bucket. Each step is tried again while it fails
// (a cluster still forming, a leader being elected, another broker creating
// the same thing at the same moment) until ctx ends, or
// defaults.StartTimeout when ctx has no deadline: every step is a
// create-or-update, so brokers may run it together.
func (b *Broker) setup(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaults.StartTimeout)
		defer cancel()
	}
	c := &b.cfg
	streams := []struct {
		cfg jetstream.StreamConfig
		lim limits.Stream
	}{
		{jetstream.StreamConfig{
			Name: bus.StreamIn, Subjects: []string{bus.InPrefix + ">"},
			Description: "Envelopes waiting for a decision.",
			Retention:   jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Replicas: c.Replicas, Duplicates: 2 * time.Minute,
		}, c.Limits.In},
		{jetstream.StreamConfig{
			Name: bus.StreamOut, Subjects: []string{bus.OutPrefix + ">"},
			Description: "Delivered envelopes, removed once the recipient acknowledges them.",
			Retention:   jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Replicas: c.Replicas, Duplicates: defaults.DedupWindow,
		}, c.Limits.Out},
		{jetstream.StreamConfig{
			Name: bus.StreamReceipts, Subjects: []string{bus.ReceiptPrefix + ">"},
			Description: "Signed receipts, removed once the sender acknowledges them.",
			Retention:   jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Replicas: c.Replicas, Duplicates: defaults.DedupWindow,
		}, c.Limits.Receipts},
	}
	for _, st := range streams {
		// Full, a stream refuses new messages: a publisher's PubAck fails,
		// or the broker retries a delivery or receipt until there is room.
		st.lim.Apply(&st.cfg, true)
		if err := b.ensure(ctx, "stream "+st.cfg.Name, func(ctx context.Context) error {
			_, err := b.js.CreateOrUpdateStream(ctx, st.cfg)
			return err
		}); err != nil {
			return fmt.Errorf("broker: stream %s (check its limits against the disk and JetStream's max_file_store): %w", st.cfg.Name, err)
		}
	}
	if err := b.ensure(ctx, "consumer "+bus.BrokerConsumer, func(ctx context.Context) error {
		_, err := b.js.CreateOrUpdateConsumer(ctx, bus.StreamIn, jetstream.ConsumerConfig{
			Durable: bus.BrokerConsumer, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: defaults.AckWait, MaxAckPending: 8192, MaxDeliver: -1,
		})
		return err
	}); err != nil {
		return fmt.Errorf("broker: consumer %s: %w", bus.BrokerConsumer, err)
	}
	// The replay guard is the audit log (guard.go): no bucket of its own.
	if c.Consent == nil {
		if err := b.ensure(ctx, "bucket "+bus.ConsentBucket, func(ctx context.Context) (err error) {
			c.Consent, err = consent.Open(ctx, b.js, c.Replicas, c.Limits.Consent)
			return err
		}); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	if err := b.ensureAgencies(ctx, c.Directory.Current()); err != nil {
		return err
	}
	c.Directory.OnChange(func(d *directory.Directory) {
		ctx, cancel := context.WithTimeout(context.Background(), defaults.StartTimeout)
		defer cancel()
		if err := b.ensureAgencies(ctx, d); err != nil {
			c.Logger.Error("broker: agency consumers", "err", err)
		}
	})
	return nil
}

// ensure runs one step of setup until it succeeds or ctx ends, each attempt
// bounded by defaults.SetupCallTimeout, and logs each failed attempt so that
// an operator sees at once why a broker is not up yet.
func (b *Broker) ensure(ctx context.Context, what string, f func(context.Context) error) error {
	return bus.Retry(ctx, defaults.SetupCallTimeout, f, func(err error) {
		b.cfg.Logger.Warn("broker: "+what+" not ready yet; trying again", "err", err)
	})
}

// ensureAgencies creates each agency's inbox and receipt consumers, so that
// deliveries wait in JetStream even before the agency first connects; each
// is tried again while it fails, until ctx ends.
func (b *Broker) ensureAgencies(ctx context.Context, d *directory.Directory) error {
	for i := range d.Agencies {
		id := d.Agencies[i].ID
		for _, cc := range []struct{ stream, name, subject string }{
			{bus.StreamOut, bus.InboxConsumer(id), bus.Out(id)},
			{bus.StreamReceipts, bus.ReceiptConsumer(id), bus.Receipt(id)},
		} {
			err := b.ensure(ctx, "consumer "+cc.name, func(ctx context.Context) error {
				_, err := b.js.CreateOrUpdateConsumer(ctx, cc.stream, jetstream.ConsumerConfig{
					Durable: cc.name, FilterSubject: cc.subject,
					AckPolicy: jetstream.AckExplicitPolicy, AckWait: defaults.DeliveryAckWait, MaxDeliver: -1,
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("broker: consumer %s: %w", cc.name, err)
			}
		}
	}
	return nil
}

// Start begins consuming inbound envelopes.
func (b *Broker) Start(ctx context.Context) error {
	var cons jetstream.Consumer
	sctx, cancel := context.WithTimeout(ctx, defaults.StartTimeout)
	defer cancel()
	if err := b.ensure(sctx, "consumer "+bus.BrokerConsumer, func(ctx context.Context) (err error) {
		cons, err = b.js.Consumer(ctx, bus.StreamIn, bus.BrokerConsumer)
		return err
	}); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	// Unbuffered: a message is in the pull buffer (at most Workers), being
	// handed over (one) or with a worker, so at most 2×Workers+1 envelopes
	// are in memory at once (see defaults.WorkersPerCPU).
	b.work = make(chan jetstream.Msg)
	b.quit = make(chan struct{})
	b.base, b.cancel = context.WithCancel(context.Background())
	for range b.cfg.Workers {
		b.workers.Add(1)
		go b.worker()
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case b.work <- m:
		case <-b.quit:
			// Not acknowledged: JetStream redelivers it to the next broker.
		}
	},
		jetstream.PullMaxMessages(b.cfg.Workers),
		// A pull request waits at the consumer's leader: when that node
		// dies, two missed heartbeats tell the broker to pull again from
		// the new leader, within seconds rather than the 30 s default.
		jetstream.PullExpiry(defaults.PullExpiry),
		jetstream.PullHeartbeat(defaults.PullHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			b.cfg.Logger.Warn("broker: consume", "err", err)
		}))
	if err != nil {
		close(b.quit)
		b.workers.Wait()
		b.cancel()
		return fmt.Errorf("broker: consume: %w", err)
	}
	b.mu.Lock()
	b.cc = cc
	b.mu.Unlock()
	b.cfg.Logger.Info("broker started", "workers", b.cfg.Workers, "policy_revision", b.cfg.Policy.Revision())
	return nil
}

// Shutdown stops taking new messages, finishes every message already taken
// and returns when they are all acknowledged or handed back. If ctx is done
// first, the messages still in hand are abandoned: their contexts are
// cancelled, JetStream hands them out again, and Shutdown returns once the
// workers have let go of them.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	cc := b.cc
	already := b.stopped
	b.stopped = true
	b.mu.Unlock()
	if cc == nil || already {
		return nil
	}
	defer b.cancel()
	cc.Drain()
	var err error
	select {
	case <-cc.Closed():
	case <-ctx.Done():
		err = fmt.Errorf("broker: shutdown: %w", ctx.Err())
	}
	close(b.quit)
	done := make(chan struct{})
	go func() { b.workers.Wait(); close(done) }()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		b.cancel()
		<-done
		return fmt.Errorf("broker: shutdown: %w", ctx.Err())
	}
}
