// Command loadgen measures the broker's pipeline under a realistic mix of
// traffic against raw JetStream publishes, in one run on one machine.
//
// It starts a broker with an embedded NATS server in a temporary directory,
// with the full policy set, and three agencies: a school, social services
// and the police. The standard mix (see cycle) has allowed and denied
// decisions, requests with their answers, forwards and disclosures under a
// recorded consent; envelopes are sealed in advance (sealing is the
// sender's cost, not the broker's). Each message's latency runs from when it
// was published (or, in the open loop, when it was due) until its signed
// receipt is back. The process's CPU time around the pipeline phase, divided
// by the messages, is the CPU per message of the broker, its NATS server and
// the generator together; the raw phases' figure is what NATS and the
// generator cost alone.
//
// In the same run it times raw JetStream publishes of the same envelopes to
// a plain file-backed stream, with async acks (all awaited together) and
// sync acks (each awaited before the next), with the broker's fsync setting,
// once before and once after the pipeline phase, and prints the ratios to
// the mean of the two: the machine's load drifts during a run, and raw
// publishes taken on one side only of the pipeline caught the drift as a
// change of ratio. Absolute numbers on a shared machine are noise; ratios
// within one run are the result.
//
//	go run ./cmd/loadgen                       # closed loop, then the open loop at half the rate it reached
//	go run ./cmd/loadgen -rate 500             # open loop at 500 messages a second
//	go run ./cmd/loadgen -json -no-fsync -n 4000
//	go run ./cmd/loadgen -replicas 2           # and with a second broker process in the queue group
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/bus"
	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
	"github.com/sekretessbroker/sekretessbroker/broker/directory"
	"github.com/sekretessbroker/sekretessbroker/broker/keys"
	"github.com/sekretessbroker/sekretessbroker/broker/layout"
	"github.com/sekretessbroker/sekretessbroker/broker/provision"
	"github.com/sekretessbroker/sekretessbroker/broker/safefile"
	"github.com/sekretessbroker/sekretessbroker/broker/service"
	"github.com/sekretessbroker/sekretessbroker/clients/agency"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	n          int
	sizes      []int
	rate       float64
	window     int
	cpus       int
	workers    int
	policies   string
	cpuprofile string
	noSync     bool
	asJSON     bool
	replicas   int
}

// report is the one JSON object -json prints.
type report struct {
	PipelineMsgsPerS float64 `json:"pipeline_msgs_per_s"`
	// RawAsyncMsgsPerS is the mean of RawAsyncRuns, and the ratios are to
	// the means.
	RawAsyncMsgsPerS float64 `json:"raw_async_msgs_per_s"`
	RawSyncMsgsPerS  float64 `json:"raw_sync_msgs_per_s"`
	// RawAsyncRuns and RawSyncRuns are the raw measurements in the order
	// taken: before the pipeline phase, then after it.
	RawAsyncRuns  []float64             `json:"raw_async_msgs_per_s_runs"`
	RawSyncRuns   []float64             `json:"raw_sync_msgs_per_s_runs"`
	RatioAsync    float64               `json:"ratio_async"`
	RatioSync     float64               `json:"ratio_sync"`
	Fsync         bool                  `json:"fsync"`
	Mix           map[string]*kindStats `json:"mix"`
	Latency       latency               `json:"latency_ms"`
	Mode          string                `json:"mode"`
	N             int                   `json:"n"`
	PayloadBytes  []int                 `json:"payload_bytes"`
	EnvelopeBytes int                   `json:"envelope_bytes"`
	GOMAXPROCS    int                   `json:"gomaxprocs"`
	Workers       int                   `json:"workers"`
	CPUPerMsg     float64               `json:"cpu_ms_per_msg"`
	// StoredWrites is how many messages the broker's streams and buckets
	// stored per message of the mix (the inbound envelope included): each is
	// an fsync with fsync on.
	StoredWrites float64 `json:"stored_writes_per_msg"`
	// SyncedWrites adds the removals to StoredWrites: a work-queue stream
	// removes a message once it is acknowledged by writing a tombstone,
	// another fsync with fsync on. Not counted: a new block with its key
	// file when a removal empties the last block, and the consumers' state
	// files (see README.md, Measuring).
	SyncedWrites float64 `json:"synced_writes_per_msg"`
	// RawAsyncCPU is the mean of the async runs' CPU per message.
	RawAsyncCPU float64 `json:"raw_async_cpu_ms_per_msg"`
	// HalfRate is the open loop at half the closed loop's rate.
	HalfRate *runResult `json:"half_rate,omitempty"`
	// TwoReplicas is the closed loop with a second broker process.
	TwoReplicas *runResult `json:"two_replicas,omitempty"`
}

func parseFlags() (options, string, string, error) {
	var o options
	var sizes, replicaOf, replicaData string
	flag.IntVar(&o.n, "n", 3000, "messages per measurement")
	flag.StringVar(&sizes, "sizes", "1024", "payload bytes, a comma-separated list cycled through (1 KiB to 256 KiB: 1024,16384,262144)")
	flag.Float64Var(&o.rate, "rate", 0, "open loop: messages a second (0: closed loop, then the open loop at half its rate)")
	flag.IntVar(&o.window, "window", 256, "closed loop: messages outstanding at once")
	flag.IntVar(&o.cpus, "cpus", 0, "GOMAXPROCS for the whole process (0: all cores)")
	flag.IntVar(&o.workers, "workers", 0, "broker workers (0: default)")
	flag.StringVar(&o.policies, "policies", defaults.PolicyDir, "policy directory")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the (first) pipeline measurement to this file")
	flag.BoolVar(&o.noSync, "no-fsync", false, "run the embedded server without an fsync before each acknowledgement, as sekretessbroker --no-fsync")
	flag.BoolVar(&o.asJSON, "json", false, "print one JSON object instead of the table")
	flag.IntVar(&o.replicas, "replicas", 1, "1, or 2 to measure a second broker process in the queue group too")
	flag.StringVar(&replicaOf, "replica-of", "", "internal: run as a second broker replica on this NATS URL")
	flag.StringVar(&replicaData, "replica-data", "", "internal: the replica's data directory")
	flag.Parse()
	for _, f := range strings.Split(sizes, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > 256<<10 {
			return o, "", "", fmt.Errorf("-sizes: %q is not a payload size from 1 byte to 256 KiB", f)
		}
		o.sizes = append(o.sizes, v)
	}
	if o.replicas < 1 || o.replicas > 2 {
		return o, "", "", fmt.Errorf("-replicas: 1 or 2")
	}
	if o.n < len(cycle) {
		return o, "", "", fmt.Errorf("-n: at least %d (one cycle of the mix)", len(cycle))
	}
	return o, replicaOf, replicaData, nil
}

func run() error {
	o, replicaOf, replicaData, err := parseFlags()
	if err != nil {
		return err
	}
	// The daemon's collector settings, so that what is measured is what
	// sekretessbroker runs (the replica process is one too).
	defaults.SetGC()
	if replicaOf != "" {
		return serveReplica(replicaData, o.policies, replicaOf, o.workers)
	}
	if o.cpus > 0 {
		runtime.GOMAXPROCS(o.cpus)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	env, err := startEnv(ctx, o.policies, o.workers, o.noSync)
	if err != nil {
		return err
	}
	defer env.close()
	svc, dir, w := env.svc, env.dir, env.w
	out := io.Writer(os.Stdout)
	if o.asJSON {
		out = io.Discard
	}
	rep := report{Fsync: !o.noSync, N: o.n, PayloadBytes: o.sizes, GOMAXPROCS: runtime.GOMAXPROCS(0), Workers: o.workers}
	if rep.Workers == 0 {
		rep.Workers = defaults.Workers()
	}

	// A short warm-up: the policy's first evaluations, the streams' first blocks.
	warm, err := w.seal(min(o.n, 200), o.sizes)
	if err != nil {
		return err
	}
	if _, err := w.run(ctx, warm, 0, o.window, processCPU, nil); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	msgs, err := w.seal(o.n, o.sizes)
	if err != nil {
		return err
	}
	rep.EnvelopeBytes = len(msgs[0].raw)
	fmt.Fprintf(out, "loadgen: %d messages of the standard mix, payloads %v B (envelope %d B), GOMAXPROCS %d, %d workers, fsync before ack %v\n",
		o.n, o.sizes, rep.EnvelopeBytes, rep.GOMAXPROCS, rep.Workers, !o.noSync)
	bnc, bjs, err := service.ConnectAsBroker(dir, svc.NATSURL())
	if err != nil {
		return err
	}
	defer bnc.Close()
	// Baselines on the broker's own connection rights, to a plain stream:
	// once now and once right after the pipeline phase, so that the ratios
	// are to raw publishes on either side of it.
	envs := make([][]byte, len(msgs))
	for i, m := range msgs {
		envs[i] = m.raw
	}
	var raw baselines
	if err := raw.measure(ctx, bjs, envs); err != nil {
		return err
	}
	writes0, err := streamWrites(ctx, bjs)
	if err != nil {
		return err
	}
	var profile bytes.Buffer
	if o.cpuprofile != "" {
		if err := pprof.StartCPUProfile(&profile); err != nil {
			return err
		}
	}
	main, err := w.run(ctx, msgs, o.rate, o.window, processCPU, nil)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	if o.cpuprofile != "" {
		if err := safefile.Write(o.cpuprofile, profile.Bytes(), 0o644); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}
	writes1, err := streamWrites(ctx, bjs)
	if err != nil {
		return err
	}
	if err := raw.measure(ctx, bjs, envs); err != nil {
		return err
	}
	rep.StoredWrites = float64(writes1.stored-writes0.stored) / float64(o.n)
	rep.SyncedWrites = rep.StoredWrites + float64(writes1.removed-writes0.removed)/float64(o.n)
	rep.Mode = "closed loop"
	if o.rate > 0 {
		rep.Mode = fmt.Sprintf("open loop at %g msg/s", o.rate)
	}
	rep.PipelineMsgsPerS, rep.Latency, rep.Mix, rep.CPUPerMsg = main.MsgsPerS, main.Latency, main.Mix, main.CPUPerMsg

	if o.rate == 0 {
		half, err := w.seal(o.n, o.sizes)
		if err != nil {
			return err
		}
		if rep.HalfRate, err = w.run(ctx, half, main.MsgsPerS/2, o.window, processCPU, nil); err != nil {
			return fmt.Errorf("open loop at half the rate: %w", err)
		}
	}

	raw.fill(&rep)

	if o.replicas == 2 {
		r, err := startReplica(ctx, dir, o.policies, svc.NATSURL(), o.workers)
		if err != nil {
			return err
		}
		two, err := w.seal(o.n, o.sizes)
		if err == nil {
			rep.TwoReplicas, err = w.run(ctx, two, 0, o.window, processCPU, r.cpu)
		}
		r.stop()
		if err != nil {
			return fmt.Errorf("two replicas: %w", err)
		}
	}

	if o.asJSON {
		enc := json.NewEncoder(os.Stdout)
		return enc.Encode(rep)
	}
	printTable(out, &rep, main)
	return nil
}

// writes counts what the broker's streams and buckets wrote so far.
type writes struct {
	// stored is the messages stored (each stream's last sequence, which
	// counts the messages acknowledged and removed since too).
	stored uint64
	// removed is the messages removed: stored, and no longer held.
	removed uint64
}

// streamWrites is what every stream but the raw baseline's has written so
// far.
func streamWrites(ctx context.Context, js jetstream.JetStream) (writes, error) {
	var w writes
	l := js.ListStreams(ctx)
	for info := range l.Info() {
		if info.Config.Name == rawStream {
			continue
		}
		w.stored += info.State.LastSeq
		// Messages before the first sequence, or deleted after it, were
		// removed; the first sequence of an empty stream is LastSeq+1.
		w.removed += info.State.LastSeq - info.State.Msgs
	}
	if err := l.Err(); err != nil {
		return writes{}, fmt.Errorf("stream list: %w", err)
	}
	return w, nil
}

func printTable(out io.Writer, rep *report, main *runResult) {
	lat := func(l latency) string {
		return fmt.Sprintf("p50 %6.1f  p90 %6.1f  p99 %6.1f  max %7.1f ms", l.P50, l.P90, l.P99, l.Max)
	}
	fmt.Fprintf(out, "  %-44s %9.0f msg/s   %s   CPU %.3f ms/msg   %.2f stored writes/msg, %.2f with removals\n", "broker pipeline, "+rep.Mode, rep.PipelineMsgsPerS, lat(rep.Latency), rep.CPUPerMsg, rep.StoredWrites, rep.SyncedWrites)
	if h := rep.HalfRate; h != nil {
		fmt.Fprintf(out, "  %-44s %9.0f msg/s   %s   CPU %.3f ms/msg\n", fmt.Sprintf("open loop at half that (%.0f msg/s offered)", h.Rate), h.MsgsPerS, lat(h.Latency), h.CPUPerMsg)
	}
	fmt.Fprintf(out, "  %-44s %9.0f msg/s   pipeline = %.3f × this   CPU %.3f ms/msg   (before, after: %s)\n", "raw JetStream publish, async acks", rep.RawAsyncMsgsPerS, rep.RatioAsync, rep.RawAsyncCPU, rates(rep.RawAsyncRuns))
	fmt.Fprintf(out, "  %-44s %9.0f msg/s   pipeline = %.3f × this   (before, after: %s)\n", "raw JetStream publish, sync acks", rep.RawSyncMsgsPerS, rep.RatioSync, rates(rep.RawSyncRuns))
	if t := rep.TwoReplicas; t != nil {
		fmt.Fprintf(out, "  %-44s %9.0f msg/s   %s   CPU %.3f ms/msg (first process) + %.3f ms/msg (second)\n",
			"two broker replicas, closed loop", t.MsgsPerS, lat(t.Latency), t.CPUPerMsg, t.ChildCPUPerMsg)
	}
	fmt.Fprintf(out, "  mix:")
	for _, k := range []string{"concern", "denied", "request", "response", "forward", "consent"} {
		if s := main.Mix[k]; s != nil {
			fmt.Fprintf(out, "  %s %d (%d allowed, %d denied)", k, s.Sent, s.Allowed, s.Denied)
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "  CPU is the whole process's (broker, its NATS server and the generator); the second replica's is its own process's.")
}

// env is a broker with an embedded NATS server in a temporary directory and
// the agencies of the mix, connected, with their consent recorded.
type env struct {
	svc   *service.Service
	dir   string
	w     *world
	close func()
}

func startEnv(ctx context.Context, policies string, workers int, noSync bool) (_ *env, err error) {
	root, err := os.MkdirTemp("", "sekretess-loadgen-")
	if err != nil {
		return nil, err
	}
	var closers []func()
	e := &env{close: func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}}
	closers = append(closers, func() { os.RemoveAll(root) })
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	e.dir = filepath.Join(root, "data")
	agencies := filepath.Join(root, "agencies")
	if _, err := provision.Init(e.dir); err != nil {
		return nil, err
	}
	for _, s := range []provision.AgencySpec{
		{ID: school, Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Skolan"},
		{ID: social, Kind: directory.KindSocialServices, Name: "Socialtjänsten"},
		{ID: police, Kind: directory.KindPolice, Name: "Polisen"},
	} {
		if _, err := provision.AddAgency(e.dir, agencies, s); err != nil {
			return nil, err
		}
	}
	if e.svc, err = service.Start(ctx, service.Config{
		DataDir: e.dir, PolicyDir: policies, NATSListen: "127.0.0.1:0", Workers: workers, NoSync: noSync, Logger: brokerLogger(),
	}); err != nil {
		return nil, err
	}
	closers = append(closers, func() { e.svc.Shutdown(context.Background()) })
	w, closeWorld, err := dialWorld(ctx, e.dir, agencies, e.svc.NATSURL())
	if err != nil {
		return nil, err
	}
	closers = append(closers, closeWorld)
	e.w = w
	if err := w.recordConsent(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// dialWorld connects each agency of the mix: the SDK client that seals and
// records consent, and a JetStream context on its own NATS user for
// publishing and reading receipts and deliveries.
func dialWorld(ctx context.Context, dir, agencies, url string) (*world, func(), error) {
	w := &world{clients: map[string]*agency.Client{}, conns: map[string]jetstream.JetStream{}}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	d, err := directory.Load(layout.Directory(dir))
	if err != nil {
		return nil, nil, err
	}
	for _, id := range []string{school, social, police} {
		home := layout.AgencyHome(agencies, id)
		ident, err := agency.LoadIdentity(home, id)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cl, err := agency.Dial(ctx, agency.Config{URL: url, Identity: ident, Directory: d})
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, func() { cl.Close() })
		w.clients[id] = cl
		nkey, err := nats.NkeyOptionFromSeed(filepath.Join(home, keys.NKeyFile))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		nc, err := nats.Connect(url, nkey, nats.CustomInboxPrefix(bus.InboxPrefix(id)))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		closers = append(closers, nc.Close)
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		w.conns[id] = js
	}
	return w, closeAll, nil
}

// brokerLogger logs the errors of a broker the load generator runs, the
// first or a replica; its warnings (such as that the generated world has no
// auditors) would only garble the table.
func brokerLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}
