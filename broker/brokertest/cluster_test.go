package brokertest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sekretessbroker/sekretessbroker/broker/brokertest"
)

// TestClusterKill: an R3 stream outlives its leader's node, a new leader
// is elected among the others, and the killed node rejoins on restart.
func TestClusterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	cl := brokertest.RunCluster(t, 3)
	nc, err := nats.Connect(cl.URL(0), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	leader := func() int { return cl.StreamLeader("R3") }
	old, err := cl.WaitLeader(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	cl.Kill(old)
	if cl.Node(old) != nil {
		t.Fatal("a killed node still runs")
	}
	now, err := cl.WaitLeader(ctx, leader)
	if err != nil || now == old {
		t.Fatalf("no new leader after the leader's node was killed: %d, %v", now, err)
	}
	if _, err := js.Publish(ctx, "r3", []byte("x")); err != nil {
		t.Fatalf("publish to the new leader: %v", err)
	}
	cl.Restart(old)
	if err := cl.WaitCurrent(ctx); err != nil {
		t.Fatalf("the restarted node did not catch up: %v", err)
	}
}
