// Package defaults holds every default value of the broker in one place, as
// nats-server's const.go does: the configuration structs, the flags of the
// commands and the documentation all read them from here, so that a default
// is changed once. It imports nothing of the project.
//
// A zero value in a Config means "the default below"; each package fills its
// Config from here in one step before validating it.
package defaults

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// Timing of the pipeline.
const (
	// ClockSkew is how far an envelope's created_at may lie from when the
	// inbound stream accepted it.
	ClockSkew = 5 * time.Minute
	// AckWait is how long JetStream waits for an inbound message to be
	// acknowledged, or its handling reported in progress, before handing it
	// to another broker: the time a dead broker's messages wait. A broker
	// working on a message reports progress every ProgressInterval, so the
	// handling itself may take up to MessageTimeout.
	AckWait = 10 * time.Second
	// ProgressInterval is how often a broker tells JetStream that it is
	// still working on a message (InProgress); well within AckWait, so that
	// a late report on a busy machine does not hand the message out twice.
	ProgressInterval = AckWait / 4
	// MessageTimeout bounds the handling of one inbound message: past it the
	// message goes back to JetStream and is tried again.
	MessageTimeout = 2 * time.Minute
	// DeliveryAckWait is how long JetStream waits for an agency to
	// acknowledge a delivery or a receipt before offering it again.
	DeliveryAckWait = 30 * time.Second
	// DedupWindow is how long JetStream remembers delivered message ids and
	// audit record ids. A redelivery after a crash re-publishes with the same
	// id within it, and so does a publish retried for want of an answer
	// (for at most MessageTimeout).
	DedupWindow = time.Hour
	// PolicyTimeout bounds one policy evaluation. The policies decide in
	// milliseconds; anything this slow is a bug in a rule, and the message is
	// denied rather than left waiting. It is generous because a denial for
	// time is final: a starved machine must not turn a lawful message away.
	PolicyTimeout = 10 * time.Second
	// PolicyPatience is how long a message waits, undecided and
	// unacknowledged, for a policy that can decide it (one that compiles and
	// answers with a decision of the contract's shape) before it is
	// rejected with policy_error. Long enough for an operator to mend a
	// broken policy file; short enough that a sender learns of it the same
	// working hour.
	PolicyPatience = 15 * time.Minute
	// PolicyHoldRetry is how long a message held for the policy waits before
	// it is tried again. The watch sees a mended policy within
	// ReloadInterval, so a held message is decided at most this much later.
	PolicyHoldRetry = 5 * time.Second
)

// Failover on a NATS cluster: how soon a lost leader is noticed, and how
// long one JetStream call may take. Shorter values fail over faster and cost
// more requests and heartbeats; every call that gets no answer is retried,
// with the same message id where it publishes, until its step's deadline.
const (
	// CallTimeout bounds one JetStream call of the pipeline (a publish, a
	// read, a key-value write). A call whose stream leader died gets no
	// answer; it is made again, to the new leader, after CallTimeout. It is
	// well below AckWait, and generous for a PubAck on a busy machine.
	CallTimeout = 2 * time.Second
	// PullExpiry is how long one pull request of the brokers' consumer
	// waits for messages before it is renewed.
	PullExpiry = 5 * time.Second
	// PullHeartbeat is how often the server confirms a waiting pull request;
	// two missed heartbeats (the consumer's leader is gone) make the broker
	// pull again, from the new leader. Below PullExpiry/2.
	PullHeartbeat = time.Second
	// RetryMin and RetryMax bound the wait between two attempts of a
	// JetStream call that failed; it doubles from one to the other.
	RetryMin = 100 * time.Millisecond
	RetryMax = time.Second
	// StartTimeout is how long a starting broker keeps trying to connect to
	// NATS and to create its streams, consumers and buckets, which fails
	// while the cluster is still forming: brokers and nodes start in any
	// order.
	StartTimeout = 2 * time.Minute
	// SetupCallTimeout bounds one attempt at creating or updating a stream,
	// consumer or bucket; an R3 stream's creation waits for its peers.
	SetupCallTimeout = 5 * time.Second
	// AuditHealthInterval is how often a broker checks that the audit
	// stream has a leader and room for records.
	AuditHealthInterval = 2 * time.Second
	// AuditHealthWindow is how long a failed audit append keeps the broker
	// unhealthy when no append begun after it has succeeded since.
	AuditHealthWindow = 10 * time.Second
)

// Concurrency and storage.
const (
	// WorkersPerCPU is the number of messages processed at once per CPU:
	// with fsync on, most of a message's time is spent waiting for the disk
	// (each message costs about ten synced writes, see README.md,
	// Measuring), and more messages in flight let the file system commit
	// the writes of several streams together. Memory is bounded by it: at
	// most 2×Workers+1 envelopes, each at most limits.EnvelopeMsgSize, are
	// in the broker at once (in its pull buffer or with a worker).
	WorkersPerCPU = 16
	// Replicas of the broker's streams and buckets: one, for a single server.
	// A cluster runs three. See ReplicaCount.
	Replicas = 1
	// MaxWorkers bounds Workers on a machine with many CPUs: the disk the
	// workers mostly wait for does not grow with the CPUs, while the
	// envelopes in memory would (at most 2×MaxWorkers+1 of them).
	MaxWorkers = 64
)

// The Go runtime's garbage collector in the daemon (see SetGC).
const (
	// GCPercent is the heap growth that triggers a collection, as GOGC.
	// A message allocates far more than it keeps (policy evaluation,
	// decryption buffers), so the runtime's 100 collects often and
	// marks the same live heap each time; 400 spends measurably less CPU
	// per message (cmd/loadgen) for a heap of at most five times the live
	// one, which MemoryLimit caps.
	GCPercent = 400
	// MemoryLimit is the soft limit of the Go heap, as GOMEMLIMIT: near it
	// the collector runs as often as needed, whatever GCPercent says.
	MemoryLimit = 1 << 30
)

// Intervals of the background work.
const (
	// CheckpointInterval is how often the audit log publishes a signed
	// checkpoint when it grew.
	CheckpointInterval = 10 * time.Second
	// ReloadInterval is how often the agency directory and the policies are
	// checked for changes.
	ReloadInterval = 2 * time.Second
	// PolicyProbeInterval is how often a healthy policy whose files did not
	// change is probed again (see policy.Engine.Probe): its answer can only
	// change with the clock, so seldom is enough. An unhealthy one is probed
	// on every check, so that it is trusted again at once.
	PolicyProbeInterval = time.Minute
	// ShutdownTimeout is how long the daemon waits for the messages in flight
	// when it is told to stop.
	ShutdownTimeout = 60 * time.Second
	// ServerReadyTimeout is how long the embedded NATS server may take to
	// accept connections after it starts (JetStream recovers its streams
	// first, which takes a while on a loaded machine with a large store).
	ServerReadyTimeout = 60 * time.Second
)

// Addresses and paths of the daemon and the tools.
const (
	// NATSListen is the embedded NATS server's address.
	NATSListen = "127.0.0.1:4222"
	// NATSURL is where the tools find the broker's NATS server: the embedded
	// server at NATSListen.
	NATSURL = "nats://" + NATSListen
	// HTTPAddr serves /metrics and /healthz.
	HTTPAddr = "127.0.0.1:8080"
	// DataDir holds the broker's keys, the directory and JetStream's files.
	DataDir = "./data"
	// PolicyDir is the directory of Rego policies.
	PolicyDir = "./policies"
)

// The agency gateway (cmd/gateway).
const (
	// GatewayListen is the gateway's HTTP address: loopback, so that only
	// programs on the agency's own machine reach it unless told otherwise.
	GatewayListen = "127.0.0.1:8090"
	// GatewayMaxBody bounds one request body to the gateway: room for the
	// largest envelope's payload in base64 and its claims.
	GatewayMaxBody = 2 << 20
)

// Workers returns the default number of messages processed at once:
// WorkersPerCPU for each CPU the Go runtime may use, at most MaxWorkers.
func Workers() int { return min(WorkersPerCPU*runtime.GOMAXPROCS(0), MaxWorkers) }

// SetGC applies GCPercent and MemoryLimit to this process, each unless the
// operator chose otherwise in GOGC or GOMEMLIMIT, which the runtime has
// already applied.
func SetGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(GCPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(MemoryLimit)
	}
}

// ReplicaCount returns n, or Replicas when n is zero or negative: the one
// rule every stream and bucket of the broker follows.
func ReplicaCount(n int) int {
	if n <= 0 {
		return Replicas
	}
	return n
}
