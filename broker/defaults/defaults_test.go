package defaults_test

import (
	"runtime"
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

// TestWorkersBounded checks that a machine with many CPUs gets MaxWorkers,
// not WorkersPerCPU for each of them.
func TestWorkersBounded(t *testing.T) {
	many := defaults.MaxWorkers/defaults.WorkersPerCPU + 1
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(many))
	if got := defaults.Workers(); got != defaults.MaxWorkers {
		t.Errorf("Workers() with GOMAXPROCS %d = %d, want %d", many, got, defaults.MaxWorkers)
	}
}
