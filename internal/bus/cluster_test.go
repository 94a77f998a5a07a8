package bus_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// TestProvisionUpdatesReplicas starts on a three-node cluster with every
// stream and bucket at one replica, as a deployment that grew from one
// server has them, then provisions with three: each is updated in place
// and keeps its messages.
func TestProvisionUpdatesReplicas(t *testing.T) {
	t.Parallel()
	cluster := testenv.NATSCluster(t)
	names := bus.NewNames(testenv.Prefix(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, _, _, err := bus.Open(ctx, cluster.URL(), "", "test", names.Prefix(), bus.Config{Replicas: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	streams := []string{names.SendStream(), names.EventsStream(), names.DLQStream(),
		"OBJ_" + names.MediaBucket(), "OBJ_" + names.InboundMediaBucket()}
	wantReplicas(ctx, t, js, streams, 1)
	if _, err := js.Publish(ctx, names.Event("t1", vocab.EventSent), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := bus.Provision(ctx, js, names, bus.Config{Replicas: 3}); err != nil {
		t.Fatalf("provision at R3: %v", err)
	}
	wantReplicas(ctx, t, js, streams, 3)
	if n := testenv.StreamMsgs(t, js, names.EventsStream()); n != 1 {
		t.Fatalf("events stream holds %d messages after the update, want 1", n)
	}
}

func wantReplicas(ctx context.Context, t *testing.T, js jetstream.JetStream, streams []string, want int) {
	t.Helper()
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		var last *jetstream.StreamInfo
		testenv.Eventually(t, 30*time.Second, name+" placed on its replicas", func() bool {
			info, err := s.Info(ctx)
			if err != nil {
				return false
			}
			last = info
			c := info.Cluster
			return info.Config.Replicas == want && c != nil && c.Leader != "" && len(c.Replicas) == want-1
		})
		if last.Config.Replicas != want {
			t.Fatalf("stream %s has %d replicas, want %d", name, last.Config.Replicas, want)
		}
	}
}

// TestProvisionRetriesALostReply drops the replies to the first JetStream
// API requests, as a cluster that is electing a leader does: provisioning
// sends them again after TryTimeout instead of waiting out its whole
// deadline.
func TestProvisionRetriesALostReply(t *testing.T) {
	t.Parallel()
	ns := testenv.NATS(t)
	nc := ns.Conn(t)
	names := bus.NewNames(testenv.Prefix(t))
	// A relay on its own API prefix in front of the real one, which loses
	// the first three requests.
	const prefix = "lossy.$JS.API"
	var dropped atomic.Int32
	var wg sync.WaitGroup
	sub, err := nc.Subscribe(prefix+".>", func(m *nats.Msg) {
		if dropped.Add(1) <= 3 {
			return
		}
		wg.Go(func() {
			rep, err := nc.Request("$JS.API"+strings.TrimPrefix(m.Subject, prefix), m.Data, 5*time.Second)
			if err == nil {
				_ = m.Respond(rep.Data)
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe(); wg.Wait() })
	js, err := jetstream.NewWithAPIPrefix(nc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, js, names, bus.Config{TryTimeout: 300 * time.Millisecond}); err != nil {
		t.Fatalf("provision through lost replies: %v", err)
	}
	if dropped.Load() <= 3 {
		t.Fatalf("only %d requests reached the relay", dropped.Load())
	}
}

// TestProcessesStartTogetherOnACluster provisions at R3 from several
// processes at once, as an admin and two workers starting together do:
// every one becomes ready.
func TestProcessesStartTogetherOnACluster(t *testing.T) {
	t.Parallel()
	cluster := testenv.NATSCluster(t)
	names := bus.NewNames(testenv.Prefix(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			nc, _, _, err := bus.Open(ctx, cluster.Nodes[i].URL(), "", "test", names.Prefix(), bus.Config{Replicas: 3}, slog.New(slog.DiscardHandler))
			if err == nil {
				nc.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
}
