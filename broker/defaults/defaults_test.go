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
	if got, want := defaults.Workers(), defaults.WorkersPerCPU*runtime.GOMAXPROCS(0); got != want || got <= 0 {
		t.Errorf("Workers() = %d, want %d", got, want)
	}
}
