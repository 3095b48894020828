package main

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
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
	// Start from a collected heap: the phase before (sealing the envelopes,
	// or the pipeline) leaves garbage whose collection would fall into one
	// measurement and not the other.
	runtime.GC()
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

// baselines are the raw measurements of one run, in the order taken.
type baselines struct {
	async, sync []rawResult
}

// measure times the raw publishes once more: async acks, then sync.
func (b *baselines) measure(ctx context.Context, js jetstream.JetStream, envs [][]byte) error {
	async, err := measureRaw(ctx, js, envs, true)
	if err != nil {
		return fmt.Errorf("raw baseline, async acks: %w", err)
	}
	sync, err := measureRaw(ctx, js, envs, false)
	if err != nil {
		return fmt.Errorf("raw baseline, sync acks: %w", err)
	}
	b.async, b.sync = append(b.async, async), append(b.sync, sync)
	return nil
}

// fill sets the report's raw figures and its ratios: each figure the mean of
// the runs, each ratio the pipeline's rate to that mean.
func (b *baselines) fill(rep *report) {
	var cpu float64
	for _, r := range b.async {
		rep.RawAsyncRuns = append(rep.RawAsyncRuns, r.MsgsPerS)
		cpu += r.CPUPerMsg
	}
	for _, r := range b.sync {
		rep.RawSyncRuns = append(rep.RawSyncRuns, r.MsgsPerS)
	}
	rep.RawAsyncMsgsPerS, rep.RawSyncMsgsPerS = mean(rep.RawAsyncRuns), mean(rep.RawSyncRuns)
	rep.RawAsyncCPU = cpu / float64(max(len(b.async), 1))
	rep.RatioAsync = rep.PipelineMsgsPerS / rep.RawAsyncMsgsPerS
	rep.RatioSync = rep.PipelineMsgsPerS / rep.RawSyncMsgsPerS
}

// mean is the arithmetic mean of vs, 0 for none.
func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs))
}

// rates formats msg/s figures for the table: "1200, 1350".
func rates(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strings.Join(parts, ", ")
}

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
