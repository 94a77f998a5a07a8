package harness

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/vocab"
)

// TestNATSClusterLeaderMovesAndNodeCatchesUp kills the node leading an R3
// stream: another leads it, and once the node is back with its store every
// replica is current again, holding what was published while it was down.
func TestNATSClusterLeaderMovesAndNodeCatchesUp(t *testing.T) {
	t.Parallel()
	c, err := StartNATSCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	names := bus.NewNames(RandomPrefix())
	nc, err := Connect(c.URL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if err := bus.Provision(ctx, js, names, bus.Config{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	stream := names.EventsStream()
	leader, err := WaitLeader(ctx, js, stream, "")
	if err != nil {
		t.Fatal(err)
	}
	node := c.Node(leader)
	if node == nil {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	node.Stop()
	if next, err := WaitLeader(ctx, js, stream, leader); err != nil || next == leader {
		t.Fatalf("after killing %s the leader is %q (%v)", leader, next, err)
	}
	if _, err := js.Publish(ctx, names.Event("t1", vocab.EventSent), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	if err := WaitCurrent(ctx, js, stream); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("the stream holds %d messages, want 1", n)
	}
}
