package defaults_test

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/sekretessbroker/sekretessbroker/broker/defaults"
)

func TestReplicaCount(t *testing.T) {
	for n, want := range map[int]int{-3: defaults.Replicas, 0: defaults.Replicas, 1: 1, 3: 3} {
		if got := defaults.ReplicaCount(n); got != want {
			t.Errorf("ReplicaCount(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestWorkers(t *testing.T) {
	if got, want := defaults.Workers(), min(defaults.WorkersPerCPU*runtime.GOMAXPROCS(0), defaults.MaxWorkers); got != want || got <= 0 {
		t.Errorf("Workers() = %d, want %d", got, want)
	}
}

// TestSetGC: the daemon's collector settings apply unless the environment
// chose its own.
func TestSetGC(t *testing.T) {
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, v) })
		} else {
			t.Cleanup(func() { os.Unsetenv(k) })
		}
		os.Unsetenv(k)
	}
	defaults.SetGC()
	if got := debug.SetGCPercent(100); got != defaults.GCPercent {
		t.Errorf("GC percent after SetGC = %d, want %d", got, defaults.GCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != defaults.MemoryLimit {
		t.Errorf("memory limit after SetGC = %d, want %d", got, defaults.MemoryLimit)
	}

	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "off")
	defaults.SetGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after SetGC with GOGC set = %d, want the environment's 100", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("memory limit after SetGC with GOMEMLIMIT set = %d, want none", got)
	}
}

// TestWorkersBounded checks that a machine with many CPUs gets MaxWorkers,
// not WorkersPerCPU for each of them.
func TestWorkersBounded(t *testing.T) {
	many := defaults.MaxWorkers/defaults.WorkersPerCPU + 1
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(many))
	if got := defaults.Workers(); got != defaults.MaxWorkers {
		t.Errorf("Workers() with GOMAXPROCS %d = %d, want %d", many, got, defaults.MaxWorkers)
	}
}
