package main

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// rawStream is the plain file-backed stream of the baselines, on the same
// server, so with the same fsync setting as the broker's streams.
const (
	rawStream  = "LOADGEN_RAW"
	rawSubject = "loadgen.raw"
)

// rawResult is one baseline measurement.
type rawResult struct {
	MsgsPerS  float64 `json:"msgs_per_s"`
	CPUPerMsg float64 `json:"cpu_ms_per_msg"`
}

// measureRaw publishes every envelope to the raw stream: async, all acks
// awaited together, or sync, each ack awaited before the next publish.
func measureRaw(ctx context.Context, js jetstream.JetStream, envs [][]byte, async bool) (rawResult, error) {
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: rawStream, Subjects: []string{rawSubject},
		Storage: jetstream.FileStorage, MaxMsgSize: 4 << 20}); err != nil {
		return rawResult{}, err
	}
	defer js.DeleteStream(context.Background(), rawStream)
	cpu0 := processCPU()
	start := time.Now()
	for _, e := range envs {
		if async {
			if _, err := js.PublishAsync(rawSubject, e); err != nil {
				return rawResult{}, err
			}
			continue
		}
		if _, err := js.Publish(ctx, rawSubject, e); err != nil {
			return rawResult{}, err
		}
	}
	if async {
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return rawResult{}, fmt.Errorf("raw publish acks: %w", ctx.Err())
		}
	}
	el := time.Since(start)
	return rawResult{MsgsPerS: float64(len(envs)) / el.Seconds(),
		CPUPerMsg: float64(processCPU()-cpu0) / float64(time.Millisecond) / float64(len(envs))}, nil
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
