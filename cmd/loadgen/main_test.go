package main

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sekretessbroker/sekretessbroker/broker/service"
)

// TestMixDecidesAsLabelled runs two cycles of the standard mix through a
// real broker with the project's policies: each kind is decided as its name
// says (a forward of a report of concern to the school is refused), every
// message gets its receipt, and the raw baselines publish to the same
// server.
func TestMixDecidesAsLabelled(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	policies := filepath.Join(filepath.Dir(file), "..", "..", "policies")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e, err := startEnv(ctx, policies, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	msgs, err := e.w.seal(2*len(cycle), []int{1024, 4096})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.w.run(ctx, msgs, 0, 4, processCPU, nil)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"concern": true, "denied": false, "request": true, "response": true, "forward": false, "consent": true}
	for kind, want := range allowed {
		s := r.Mix[kind]
		if s == nil || s.Sent == 0 || s.Allowed+s.Denied != s.Sent {
			t.Fatalf("%s: %+v", kind, s)
		}
		if (want && s.Allowed != s.Sent) || (!want && s.Denied != s.Sent) {
			t.Errorf("%s: %d allowed, %d denied of %d; want all %v", kind, s.Allowed, s.Denied, s.Sent, map[bool]string{true: "allowed", false: "denied"}[want])
		}
	}
	if r.N != len(msgs) || r.Latency.Max <= 0 || r.Latency.P50 > r.Latency.Max {
		t.Fatalf("result %+v", r)
	}
	_, bjs, err := service.ConnectAsBroker(e.dir, e.svc.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	envs := [][]byte{msgs[0].raw, msgs[1].raw}
	for _, async := range []bool{true, false} {
		if raw, err := measureRaw(ctx, bjs, envs, async); err != nil || raw.MsgsPerS <= 0 {
			t.Fatalf("raw baseline (async %v): %+v %v", async, raw, err)
		}
	}
	// The open loop paces the mix and still gets every receipt.
	more, err := e.w.seal(len(cycle), []int{1024})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.run(ctx, more, 200, 0, processCPU, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := percentiles(ds)
	if l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 {
		t.Fatalf("percentiles %+v", l)
	}
}

// TestBaselinesMean checks that the reported raw rates are the means of the
// runs, listed in the order taken, and that the ratios are to the means.
func TestBaselinesMean(t *testing.T) {
	b := baselines{
		async: []rawResult{{MsgsPerS: 1000, CPUPerMsg: 0.02}, {MsgsPerS: 3000, CPUPerMsg: 0.04}},
		sync:  []rawResult{{MsgsPerS: 400}, {MsgsPerS: 600}},
	}
	rep := report{PipelineMsgsPerS: 100}
	b.fill(&rep)
	if rep.RawAsyncMsgsPerS != 2000 || rep.RawSyncMsgsPerS != 500 || rep.RatioAsync != 0.05 || rep.RatioSync != 0.2 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.RawAsyncRuns) != 2 || rep.RawAsyncRuns[0] != 1000 || rep.RawAsyncRuns[1] != 3000 || len(rep.RawSyncRuns) != 2 || rep.RawSyncRuns[0] != 400 {
		t.Fatalf("runs %v %v", rep.RawAsyncRuns, rep.RawSyncRuns)
	}
	if d := rep.RawAsyncCPU - 0.03; d > 1e-12 || d < -1e-12 {
		t.Fatalf("raw async CPU %v, want 0.03", rep.RawAsyncCPU)
	}
}
