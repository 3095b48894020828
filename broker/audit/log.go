package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/errcode"
	"github.com/sekretessbroker/sekretessbroker/broker/limits"
)

// Config configures a Log.
type Config struct {
	// JetStream is the connection's JetStream context.
	JetStream jetstream.JetStream
	// Replicas of the audit stream, checkpoint stream and key streams: 3 on a
	// cluster; zero means defaults.Replicas.
	Replicas int
	// Limits bound the audit stream, the checkpoint stream and the key
	// bucket (Audit, AuditCheckpoints and AuditKeys; the others are not
	// used); zero fields take limits.Default(0). A full audit stream refuses
	// records, and the broker holds messages back until it takes them again.
	Limits limits.Streams
	// Signer signs checkpoints and records (the broker's audit key); its
	// name is the log's origin.
	Signer note.Signer
	// History is the audit key's history (keys.AuditKeyHistory): records
	// signed by any of its keys are the broker's. Records signed by Signer
	// are always; nil means those alone.
	History note.Verifiers
	// Auditors are the age recipients the personal fields are sealed to. With
	// none, personal fields are not recorded at all.
	Auditors []age.Recipient
	// CheckpointInterval is how often a checkpoint is published when the log
	// grew; zero means defaults.CheckpointInterval.
	CheckpointInterval time.Duration
	// HealthInterval is how often the log checks that its stream answers
	// and has room for records; zero means defaults.AuditHealthInterval.
	HealthInterval time.Duration
	// HealthWindow is how long a failed append or check keeps Err reporting
	// it when nothing begun after it has succeeded; zero means
	// defaults.AuditHealthWindow.
	HealthWindow time.Duration
	// Logger receives the log's warnings and errors; nil discards them.
	Logger *slog.Logger
	// Now is the checkpoints' clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with every unset field that has a default filled in.
func (c Config) withDefaults() Config {
	c.Replicas = defaults.ReplicaCount(c.Replicas)
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = defaults.CheckpointInterval
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = defaults.AuditHealthInterval
	}
	if c.HealthWindow <= 0 {
		c.HealthWindow = defaults.AuditHealthWindow
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
	case c.JetStream == nil:
		return errors.New("audit: JetStream is required")
	case c.Signer == nil:
		return errors.New("audit: Signer (the audit key) is required")
	}
	return nil
}

// Log is a broker's handle on the shared audit log. It is safe for
// concurrent use, and several Logs (one per broker replica) may append to the
// same stream at once.
type Log struct {
	cfg         Config
	js          jetstream.JetStream
	stream      jetstream.Stream
	checkpoints jetstream.Stream
	state       jetstream.Stream
	sealer      *sealer
	cc          jetstream.ConsumeContext
	// recordKeys check that a record is the broker's before it is acted on.
	recordKeys note.Verifiers

	mu    sync.Mutex // guards the fields below
	tree  frontier
	grown chan struct{} // closed and replaced whenever the tree grows
	// These indexes cover only records on the bare subject bus.AuditRecord,
	// written before records had subjects of their own (a number that no
	// longer grows); records since are found by their subject (index.go).
	// They hold the record's audit stream sequence, not the record.
	bySeq     map[uint64]uint64 // inbound sequence → audit sequence
	byMessage map[string]uint64 // message id → audit sequence
	// moreBySeq and moreByMessage hold later records under a key already
	// taken, rarely any: a lookup tries them in order when the first is not
	// the broker's (someone else published it to squat the key).
	moreBySeq     map[uint64][]uint64
	moreByMessage map[string][]uint64
	readErr       error // the stream could not be followed
	// signedFrom is the first record the broker signed (signedFromKey):
	// unsigned records before it were written before records were signed
	// and are trusted as before; unsigned ones from it on are not the
	// broker's.
	signedFrom uint64
	health     health
	published  int64 // size of this Log's last checkpoint

	quit     chan struct{}
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	isClosed bool
}

// Open creates the audit streams if needed, starts from the latest snapshot
// whose checkpoint verifies with the log's keys (or from the first record
// without one), reads the records after it to bring the tree up to date, and
// keeps following the stream, so that records appended by other brokers are
// seen too. Its time does not grow with the log's length, only with the
// records appended since the last checkpoint.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Log{
		cfg: cfg, js: cfg.JetStream, grown: make(chan struct{}),
		bySeq: map[uint64]uint64{}, byMessage: map[string]uint64{},
		quit: make(chan struct{}), recordKeys: signerVerifiers{s: cfg.Signer, more: cfg.History},
	}
	// While a cluster forms, or another broker creates the same streams at
	// the same moment, a step fails or gets no answer: it is tried again.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaults.StartTimeout)
		defer cancel()
	}
	retry := func(what string, f func(context.Context) error) error {
		return bus.Retry(ctx, defaults.SetupCallTimeout, f, func(err error) {
			cfg.Logger.Warn("audit: "+what+" not ready yet; trying again", "err", err)
		})
	}
	var err error
	l.stream, l.checkpoints, err = setup(ctx, cfg.JetStream, cfg.Replicas, cfg.Limits, func(what string, err error) {
		cfg.Logger.Warn("audit: "+what+" not ready yet; trying again", "err", err)
	})
	if err != nil {
		return nil, err
	}
	l.signedFrom = signedFrom(l.stream.CachedInfo())
	if err := retry("stream "+bus.StreamAuditState, func(ctx context.Context) (err error) {
		l.state, err = setupState(ctx, cfg.JetStream, cfg.Replicas)
		return err
	}); err != nil {
		return nil, err
	}
	var info *jetstream.StreamInfo
	if err := retry("stream "+bus.StreamAudit, func(ctx context.Context) (err error) {
		info, err = l.stream.Info(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("audit: %s: %w", bus.StreamAudit, err)
	}
	f, err := loadSnapshot(ctx, l.state, l.stream, l.recordKeys, info.State.LastSeq)
	switch {
	case err == nil:
		l.tree = f
	case !errors.Is(err, errNoSnapshot):
		cfg.Logger.Warn("audit: snapshot not used; reading the log from its first record", "err", err)
	}
	if err := l.loadLegacy(ctx, uint64(l.tree.n)); err != nil {
		return nil, err
	}
	if len(cfg.Auditors) > 0 {
		lim := cfg.Limits.Or(limits.Default(0))
		l.sealer = &sealer{store: &keyStore{js: cfg.JetStream, replicas: cfg.Replicas, limit: lim.AuditKeys},
			auditors: cfg.Auditors}
	} else {
		cfg.Logger.Warn("audit: no auditor recipients; personal fields are not recorded")
	}
	var cons jetstream.Consumer
	if err := retry("reader", func(ctx context.Context) (err error) {
		cons, err = l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
			DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: uint64(l.tree.n) + 1,
		})
		return err
	}); err != nil {
		return nil, fmt.Errorf("audit: follow %s: %w", bus.StreamAudit, err)
	}
	if l.cc, err = cons.Consume(l.receive); err != nil {
		return nil, fmt.Errorf("audit: follow %s: %w", bus.StreamAudit, err)
	}
	if err := l.Sync(ctx); err != nil {
		l.cc.Stop()
		return nil, err
	}
	l.wg.Add(2)
	go l.checkpointLoop()
	go l.healthLoop()
	return l, nil
}

// Setup creates or updates the audit stream and the checkpoint stream with
// their limits, zero replicas meaning defaults.Replicas (zero fields take
// limits.Default(0)), and returns them. The key streams are made as their
// periods begin (keystore.go).
func Setup(ctx context.Context, js jetstream.JetStream, replicas int, lim limits.Streams) (records, checkpoints jetstream.Stream, err error) {
	return setup(ctx, js, replicas, lim, nil)
}

// setup is Setup, each step tried again while it fails (a cluster forming,
// another broker creating the same stream at the same moment) until ctx
// ends, each attempt bounded by defaults.SetupCallTimeout; onErr, if not
// nil, is told of each failed attempt.
func setup(ctx context.Context, js jetstream.JetStream, replicas int, lim limits.Streams, onErr func(string, error)) (records, checkpoints jetstream.Stream, err error) {
	step := func(what string, f func(context.Context) error) error {
		return bus.Retry(ctx, defaults.SetupCallTimeout, f, func(err error) {
			if onErr != nil {
				onErr(what, err)
			}
		})
	}
	replicas = defaults.ReplicaCount(replicas)
	lim = lim.Or(limits.Default(0))
	rc := jetstream.StreamConfig{
		Name: bus.StreamAudit, Subjects: []string{bus.AuditRecord, bus.AuditRecordPrefix + ">"},
		Description: "The audit log: one record per decision, in log order. Never deleted.",
		Storage:     jetstream.FileStorage, Replicas: replicas,
		DenyDelete: true, DenyPurge: true, Duplicates: defaults.DedupWindow,
		// Lookups by subject (index.go) go through the stream's leader, not
		// direct gets: nats-server v2.15.2 reads its options without a lock
		// while it serves a direct get, which races with the option reload
		// that every directory change makes.
		AllowDirect: false,
	}
	// Apply sets DiscardNew: a full log refuses a record, never drops one.
	lim.Audit.Apply(&rc, false)
	err = step("stream "+bus.StreamAudit, func(ctx context.Context) (err error) {
		// Read again on each attempt: a broker that created the stream
		// meanwhile has set where signed records begin.
		if rc.Metadata, err = signedFromMetadata(ctx, js); err != nil {
			return err
		}
		records, err = js.CreateOrUpdateStream(ctx, rc)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: stream %s (check its limits against the disk and JetStream's max_file_store): %w", bus.StreamAudit, err)
	}
	cc := jetstream.StreamConfig{
		Name: bus.StreamAuditCheckpoints, Subjects: []string{bus.AuditCheckpoint, bus.AuditCosignedPrefix + ">"},
		Description: "Signed checkpoints of the audit log and their witnesses' cosignatures.",
		Storage:     jetstream.FileStorage, Replicas: replicas,
		DenyDelete: true, DenyPurge: true,
	}
	lim.AuditCheckpoints.Apply(&cc, false)
	err = step("stream "+bus.StreamAuditCheckpoints, func(ctx context.Context) (err error) {
		checkpoints, err = js.CreateOrUpdateStream(ctx, cc)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("audit: stream %s: %w", bus.StreamAuditCheckpoints, err)
	}
	return records, checkpoints, nil
}

// receive adds one record of the stream to the tree and the indexes. The
// ordered consumer delivers every record once, in order, without gaps; it
// starts over on its own after a disconnect, so records already held are
// skipped.
func (l *Log) receive(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	seq := int64(md.Sequence.Stream)
	var k indexKey
	legacy := m.Subject() == bus.AuditRecord
	if legacy {
		k, legacy = l.legacyKey(uint64(seq), m.Headers(), m.Data())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case seq <= l.tree.n:
		return
	case seq != l.tree.n+1:
		l.readErr = fmt.Errorf("audit: stream skips from record %d to %d; the log is not whole", l.tree.n, seq)
		l.cfg.Logger.Error("audit: gap in the audit stream", "have", l.tree.n, "got", seq)
		return
	}
	l.tree.add(m.Data())
	// Every record is a leaf, the broker's or not: the checkpoints sign the
	// stream as it is. A lookup checks the records it reads and acts only
	// on the broker's.
	if legacy {
		l.index(k, uint64(seq))
	}
	close(l.grown)
	l.grown = make(chan struct{})
}

// legacyKey returns the index key of a record on the bare subject: from its
// header, or decoded from the record when it has none.
func (l *Log) legacyKey(seq uint64, h nats.Header, data []byte) (indexKey, bool) {
	if k, ok := parseIndexHeader(h.Get(indexHeader)); ok {
		return k, true
	}
	var e struct {
		DecisionID string   `json:"decision_id"`
		Decision   indexKey `json:"decision"`
	}
	err := json.Unmarshal(data, &e)
	if err == nil && e.DecisionID != "" {
		return e.Decision, true
	}
	l.cfg.Logger.Error("audit: undecodable record in the audit stream", "seq", seq, "err", err)
	return indexKey{}, false
}

// loadLegacy indexes the records on the bare subject bus.AuditRecord up to
// the audit sequence upTo (the snapshot's size: the follower reads those
// after it). They were written before records had subjects of their own,
// so there are as many as there were then, however long the log grows.
func (l *Log) loadLegacy(ctx context.Context, upTo uint64) error {
	if upTo == 0 {
		return nil
	}
	last, err := l.stream.GetLastMsgForSubject(ctx, bus.AuditRecord)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: %s: %w", bus.StreamAudit, err)
	}
	upTo = min(upTo, last.Sequence)
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{bus.AuditRecord}})
	if err != nil {
		return fmt.Errorf("audit: %s: %w", bus.StreamAudit, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("audit: %s: %w", bus.StreamAudit, err)
	}
	defer it.Stop()
	for {
		m, err := nextMsg(ctx, it)
		if err != nil {
			return fmt.Errorf("audit: reading the records before subjects: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("audit: %s: %w", bus.StreamAudit, err)
		}
		seq := md.Sequence.Stream
		if seq > upTo {
			return nil
		}
		if k, ok := l.legacyKey(seq, m.Headers(), m.Data()); ok {
			l.mu.Lock()
			l.index(k, seq)
			l.mu.Unlock()
		}
		if seq == upTo {
			return nil
		}
	}
}

// indexKey is what the indexes need of a record.
type indexKey struct {
	InboundSeq uint64 `json:"inbound_seq"`
	MessageID  string `json:"message_id"`
	ErrorCode  string `json:"error_code"`
}

// indexHeader carries a record's index key beside the record, as
// "<inbound-seq>,<message-id>,<error-code>" (commas, as NATS trims a header
// value's trailing blanks). It is outside the record's Merkle leaf, so
// lookups check the record they read against the key.
const indexHeader = "Sekretess-Index"

var indexToken = regexp.MustCompile(`^[a-z0-9_-]{0,64}$`)

// header returns k as the value of indexHeader, if its fields are tokens.
func (k indexKey) header() (string, bool) {
	if !indexToken.MatchString(k.MessageID) || !indexToken.MatchString(k.ErrorCode) {
		return "", false
	}
	return strconv.FormatUint(k.InboundSeq, 10) + "," + k.MessageID + "," + k.ErrorCode, true
}

func parseIndexHeader(v string) (indexKey, bool) {
	f := strings.Split(v, ",")
	if len(f) != 3 || !indexToken.MatchString(f[1]) || !indexToken.MatchString(f[2]) {
		return indexKey{}, false
	}
	seq, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return indexKey{}, false
	}
	// Cloned: the index keeps the id for good, and a substring would keep
	// the message's whole header block with it.
	return indexKey{InboundSeq: seq, MessageID: strings.Clone(f[1]), ErrorCode: f[2]}, true
}

// index remembers that the record at audit sequence seq decided k; l.mu is
// held. The first record wins, so every broker answers the same.
func (l *Log) index(k indexKey, seq uint64) {
	if k.InboundSeq != 0 {
		if _, ok := l.bySeq[k.InboundSeq]; !ok {
			l.bySeq[k.InboundSeq] = seq
		} else {
			if l.moreBySeq == nil {
				l.moreBySeq = map[uint64][]uint64{}
			}
			l.moreBySeq[k.InboundSeq] = append(l.moreBySeq[k.InboundSeq], seq)
		}
	}
	// A message id maps to its policy decision, not to later rejections of
	// replays that reused the id.
	if k.MessageID != "" && k.ErrorCode != errcode.Replay {
		if _, ok := l.byMessage[k.MessageID]; !ok {
			l.byMessage[k.MessageID] = seq
		} else {
			if l.moreByMessage == nil {
				l.moreByMessage = map[string][]uint64{}
			}
			l.moreByMessage[k.MessageID] = append(l.moreByMessage[k.MessageID], seq)
		}
	}
}

// Head returns the number of records read and the tree's root hash over them.
func (l *Log) Head() (int64, tlog.Hash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tree.n, l.tree.root()
}

// Err reports why the log cannot take records now, or cannot be followed.
// It follows the stream, not the last append to finish: an append or a
// check of the stream (every HealthInterval) that failed counts for
// HealthWindow, unless one begun after it has succeeded since. A call that
// timed out late, after later ones succeeded, says nothing about the stream
// now; an idle broker is judged by its checks.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.readErr != nil {
		return l.readErr
	}
	return l.health.err(l.cfg.Now(), l.cfg.HealthWindow)
}

// health is what the log knows of whether its stream takes records: the
// outcomes of appends and checks, ordered by when each began.
type health struct {
	okStart   time.Time // start of the latest-begun call that succeeded
	failStart time.Time // start of the latest-begun call that failed
	failEnd   time.Time // when a call last failed
	failErr   error
}

// note records the outcome of a call begun at start. A call the caller gave
// up on (context.Canceled: the broker stops) says nothing of the stream.
func (l *Log) note(start time.Time, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	h := &l.health
	if err == nil {
		if start.After(h.okStart) {
			h.okStart = start
		}
		return
	}
	if !start.Before(h.failStart) {
		h.failStart, h.failErr = start, err
	}
	h.failEnd = l.cfg.Now()
}

func (h *health) err(now time.Time, window time.Duration) error {
	if h.failErr == nil || !h.failStart.After(h.okStart) || now.Sub(h.failEnd) >= window {
		return nil
	}
	return h.failErr
}

// healthLoop checks the audit stream every HealthInterval: that it answers
// (it has a leader) and has room for a record.
func (l *Log) healthLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
		}
		start := l.cfg.Now()
		ctx, cancel := context.WithTimeout(context.Background(), defaults.CallTimeout)
		err := l.check(ctx)
		cancel()
		l.note(start, err)
	}
}

// check asks the audit stream for its state.
func (l *Log) check(ctx context.Context) error {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("audit: stream %s does not answer (no leader?): %w", bus.StreamAudit, err)
	}
	if info.Cluster != nil && info.Cluster.Leader == "" {
		return fmt.Errorf("audit: stream %s has no leader", bus.StreamAudit)
	}
	c, st := info.Config, info.State
	if (c.MaxMsgs > 0 && st.Msgs >= uint64(c.MaxMsgs)) || (c.MaxBytes > 0 && st.Bytes >= uint64(c.MaxBytes)) {
		return fmt.Errorf("audit: stream %s is full (%d records, %d bytes); raise --audit-max-msgs or --audit-max-bytes", bus.StreamAudit, st.Msgs, st.Bytes)
	}
	return nil
}

// Sync waits until this Log has read every record the stream held when Sync
// was called.
func (l *Log) Sync(ctx context.Context) error {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	last := int64(info.State.LastSeq)
	for {
		l.mu.Lock()
		n, grown, rerr := l.tree.n, l.grown, l.readErr
		l.mu.Unlock()
		if rerr != nil {
			return rerr
		}
		if n >= last {
			return nil
		}
		select {
		case <-grown:
		case <-ctx.Done():
			return fmt.Errorf("audit: reading the log (%d of %d records): %w", n, last, ctx.Err())
		}
	}
}

// Checkpoint signs and publishes a checkpoint of everything in the stream now.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	if err := l.Sync(ctx); err != nil {
		return nil, err
	}
	return l.publishCheckpoint(ctx)
}

func (l *Log) publishCheckpoint(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	f := frontier{n: l.tree.n, edge: append([]tlog.Hash(nil), l.tree.edge...), last: l.tree.last}
	l.mu.Unlock()
	n := f.n
	c := Checkpoint{Origin: l.cfg.Signer.Name(), Size: n, Root: f.root(), Time: l.cfg.Now().UTC().Truncate(time.Second)}
	msg, err := SignCheckpoint(l.cfg.Signer, c)
	if err != nil {
		return nil, err
	}
	if _, err := l.js.Publish(ctx, bus.AuditCheckpoint, msg); err != nil {
		return nil, fmt.Errorf("audit: publish checkpoint: %w", err)
	}
	// The next broker starts from here. Without it, it reads from the
	// previous snapshot: slower, never wrong.
	if err := publishSnapshot(ctx, l.js, msg, f); err != nil {
		l.cfg.Logger.Warn("audit: snapshot not stored", "err", err)
	}
	l.mu.Lock()
	l.published = max(l.published, n)
	l.mu.Unlock()
	return msg, nil
}

func (l *Log) checkpointLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-t.C:
			l.mu.Lock()
			grew := l.tree.n > l.published
			l.mu.Unlock()
			if !grew {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), l.cfg.CheckpointInterval)
			if _, err := l.publishCheckpoint(ctx); err != nil {
				l.cfg.Logger.Warn("audit: checkpoint not published", "err", err)
			}
			cancel()
		}
	}
}

// Close publishes a last checkpoint and stops following the stream.
func (l *Log) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.isClosed {
		return nil
	}
	l.isClosed = true
	close(l.quit)
	l.wg.Wait()
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := l.Sync(ctx); serr != nil {
		err = fmt.Errorf("audit: last checkpoint: %w", serr)
	} else if _, perr := l.publishCheckpoint(ctx); perr != nil {
		err = fmt.Errorf("audit: last checkpoint: %w", perr)
	}
	l.cc.Stop()
	return err
}

// ReadStream reads the whole audit log from JetStream: every record up to the
// stream's last sequence now, and every checkpoint.
func ReadStream(ctx context.Context, js jetstream.JetStream) (*Export, error) {
	ex := &Export{}
	if s, err := js.Stream(ctx, bus.StreamAudit); err == nil {
		ex.SignedFrom = int64(signedFrom(s.CachedInfo()))
	}
	err := readAll(ctx, js, bus.StreamAudit, func(seq uint64, data []byte) {
		ex.Records = append(ex.Records, Record{Seq: int64(seq), Data: data})
	})
	if err != nil {
		return nil, err
	}
	err = readAll(ctx, js, bus.StreamAuditCheckpoints, func(_ uint64, data []byte) {
		ex.Checkpoints = append(ex.Checkpoints, data)
	})
	if err != nil {
		return nil, err
	}
	return ex, nil
}

func readAll(ctx context.Context, js jetstream.JetStream, stream string, f func(seq uint64, data []byte)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("audit: %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("audit: %s: %w", stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("audit: %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		m, err := nextMsg(ctx, it)
		if err != nil {
			return fmt.Errorf("audit: %s: %w", stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("audit: %s: %w", stream, err)
		}
		f(md.Sequence.Stream, m.Data())
		if md.Sequence.Stream >= last {
			return nil
		}
	}
}

// nextMsg is it.Next bounded by ctx.
func nextMsg(ctx context.Context, it jetstream.MessagesContext) (jetstream.Msg, error) {
	type res struct {
		m   jetstream.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := it.Next()
		ch <- res{m, err}
	}()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		// Stop makes Next return, so the goroutine ends before this does.
		it.Stop()
		<-ch
		return nil, ctx.Err()
	}
}
