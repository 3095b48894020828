// Command loadgen measures the broker's pipeline against raw NATS in one run.
//
// It starts a broker with an embedded NATS server in a temporary directory,
// seals N concern reports in advance (sealing is the sender's cost, not the
// broker's), publishes them and times until every signed receipt is back. In
// the same run and process it times publishing the same envelopes to a plain
// JetStream stream and over core NATS, and prints the ratios. Absolute numbers
// on shared machines are noise; the ratios are the result.
//
//	go run ./cmd/loadgen -n 5000 -cpus 1
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
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

func run() error {
	n := flag.Int("n", 3000, "messages per measurement")
	size := flag.Int("size", 1024, "payload bytes")
	cpus := flag.Int("cpus", 0, "GOMAXPROCS for the whole process (0: all cores)")
	policies := flag.String("policies", defaults.PolicyDir, "policy directory")
	workers := flag.Int("workers", 0, "broker workers (0: default)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the pipeline measurement to this file")
	noSync := flag.Bool("no-fsync", false, "run the embedded server without an fsync before each acknowledgement, as sekretessbroker --no-fsync")
	flag.Parse()
	if *cpus > 0 {
		runtime.GOMAXPROCS(*cpus)
	}
	root, err := os.MkdirTemp("", "sekretess-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	dir, agencies := filepath.Join(root, "data"), filepath.Join(root, "agencies")
	if _, err := provision.Init(dir); err != nil {
		return err
	}
	for _, s := range []provision.AgencySpec{
		{ID: "skola", Kind: directory.KindSchool, Operator: directory.OperatorMunicipal, Name: "Skolan"},
		{ID: "soc", Kind: directory.KindSocialServices, Name: "Socialtjänsten"},
	} {
		if _, err := provision.AddAgency(dir, agencies, s); err != nil {
			return err
		}
	}
	ctx := context.Background()
	svc, err := service.Start(ctx, service.Config{
		DataDir: dir, PolicyDir: *policies, NATSListen: "127.0.0.1:0", Workers: *workers, NoSync: *noSync,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer svc.Shutdown(context.Background())

	d, err := directory.Load(layout.Directory(dir))
	if err != nil {
		return err
	}
	id, err := agency.LoadIdentity(layout.AgencyHome(agencies, "skola"), "skola")
	if err != nil {
		return err
	}
	cl, err := agency.Dial(ctx, agency.Config{URL: svc.NATSURL(), Identity: id, Directory: d})
	if err != nil {
		return err
	}
	defer cl.Close()
	payload := make([]byte, *size)
	meta := map[string]any{"category": "concern", "subject": map[string]any{"pseudonym": "elev-1", "birth_date": "2012-03-04"}, "purpose": "orosanmälan"}
	envs := make([][]byte, *n)
	ids := make([]string, *n)
	for i := range envs {
		if envs[i], ids[i], err = cl.Seal(agency.Message{To: "soc", Kind: "concern_report", Metadata: meta, Payload: payload}); err != nil {
			return err
		}
	}
	fmt.Printf("loadgen: %d messages, payload %d B, envelope %d B, GOMAXPROCS %d, fsync before ack %v\n", *n, *size, len(envs[0]), runtime.GOMAXPROCS(0), !*noSync)

	nkey, err := nats.NkeyOptionFromSeed(filepath.Join(layout.AgencyHome(agencies, "skola"), keys.NKeyFile))
	if err != nil {
		return err
	}
	nc, err := nats.Connect(svc.NATSURL(), nkey, nats.CustomInboxPrefix(bus.InboxPrefix("skola")))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// The profile is kept in memory and written whole afterwards, so that a
	// failed run leaves no truncated profile behind.
	var profile bytes.Buffer
	if *cpuprofile != "" {
		if err := pprof.StartCPUProfile(&profile); err != nil {
			return err
		}
	}
	pipeline, err := measurePipeline(ctx, js, envs, ids)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		if err := safefile.Write(*cpuprofile, profile.Bytes(), 0o644); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
	}

	// Baselines on the broker's own connection rights: a plain stream.
	bnc, bjs, err := service.ConnectAsBroker(dir, svc.NATSURL())
	if err != nil {
		return err
	}
	defer bnc.Close()
	if _, err := bjs.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "LOADGEN_RAW", Subjects: []string{"loadgen.raw"},
		Storage: jetstream.FileStorage, MaxMsgSize: 4 << 20}); err != nil {
		return err
	}
	jsRaw, err := measureJetStream(ctx, bjs, envs)
	if err != nil {
		return err
	}
	coreRaw, err := measureCore(bnc, envs)
	if err != nil {
		return err
	}
	rate := func(d time.Duration) float64 { return float64(*n) / d.Seconds() }
	fmt.Printf("  broker pipeline (publish → signed receipt)   %9.0f msg/s\n", rate(pipeline))
	fmt.Printf("  raw JetStream publish (async, file storage)  %9.0f msg/s   pipeline = %.3f × this\n", rate(jsRaw), jsRaw.Seconds()/pipeline.Seconds())
	fmt.Printf("  raw core NATS publish + flush                %9.0f msg/s   pipeline = %.3f × this\n", rate(coreRaw), coreRaw.Seconds()/pipeline.Seconds())
	return nil
}

// measurePipeline publishes every envelope asynchronously and waits for all
// receipts.
func measurePipeline(ctx context.Context, js jetstream.JetStream, envs [][]byte, ids []string) (time.Duration, error) {
	cons, err := js.Consumer(ctx, bus.StreamReceipts, bus.ReceiptConsumer("skola"))
	if err != nil {
		return 0, err
	}
	var got, rejected atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if m.Headers().Get(bus.HeaderSignature) == "" {
			rejected.Add(1)
		}
		_ = m.Ack()
		if int(got.Add(1)) == len(envs) {
			close(done)
		}
	}, jetstream.PullMaxMessages(1000))
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	start := time.Now()
	if err := publishAll(js, bus.In("skola"), envs, ids); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		return 0, fmt.Errorf("only %d of %d receipts after 10 minutes", got.Load(), len(envs))
	}
	if rejected.Load() > 0 {
		return 0, fmt.Errorf("%d receipts were unsigned", rejected.Load())
	}
	return time.Since(start), nil
}

func publishAll(js jetstream.JetStream, subject string, envs [][]byte, ids []string) error {
	for i, e := range envs {
		m := nats.NewMsg(subject)
		m.Data = e
		var opts []jetstream.PublishOpt
		if ids != nil {
			opts = append(opts, jetstream.WithMsgID(ids[i]))
		}
		if _, err := js.PublishMsgAsync(m, opts...); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("publish acks did not complete")
	}
}

func measureJetStream(_ context.Context, js jetstream.JetStream, envs [][]byte) (time.Duration, error) {
	start := time.Now()
	if err := publishAll(js, "loadgen.raw", envs, nil); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func measureCore(nc *nats.Conn, envs [][]byte) (time.Duration, error) {
	sub, err := nc.SubscribeSync("loadgen.core")
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return 0, err
	}
	start := time.Now()
	for _, e := range envs {
		if err := nc.Publish("loadgen.core", e); err != nil {
			return 0, err
		}
	}
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	for range envs {
		if _, err := sub.NextMsg(time.Minute); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
