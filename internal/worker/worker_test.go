package worker_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/worker"
)

// A worker whose metrics address is taken has no /healthz: it stops with
// the listen error at once rather than running on unobserved.
func TestWorkerStopsWhenMetricsAddressTaken(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := workertest.Config(t, s, "taken")
	cfg.MetricsAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, workertest.Logger()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("worker returned nil with its metrics address taken")
		}
		t.Logf("worker stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("worker still running 60s after its metrics address was found taken")
	}
}

// A stopping worker leaves the control queue group before it releases its
// tenants: a control request sent while a session is being stopped finds
// no responder in it (with other workers running, one of them answers).
func TestStoppingWorkerTakesNoControlRequestsWhileReleasing(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	cfg := workertest.Config(t, s, "w1")
	d, err := sim.New(sim.Config{WorkerID: "w1", Names: s.Names}, s.Pool, nc, workertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() }) // after the worker stopped
	asked := make(chan error, 1)
	drv := &askOnDisconnect{Driver: d, ask: func() {
		_, err := nc.Request(s.Names.Ctl("acme", ctl.OpReconnect), nil, 5*time.Second)
		asked <- err
	}}
	w := workertest.StartDeps(t, s, cfg, worker.Deps{Driver: drv})
	workertest.Pair(t, s, nc, "acme")

	drv.stopping.Store(true)
	w.Stop()
	select {
	case err := <-asked:
		if !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("request while releasing: err %v, want no responders", err)
		}
	default:
		t.Fatal("the worker released its tenants without disconnecting acme's session")
	}
}

// askOnDisconnect is the simulator whose connections, once stopping is
// set, call ask (once) as they are disconnected.
type askOnDisconnect struct {
	*sim.Driver
	ask      func()
	stopping atomic.Bool
	once     sync.Once
}

func (d *askOnDisconnect) Open(tenant string, dev wa.Device, h wa.Handler) (wa.Conn, error) {
	c, err := d.Driver.Open(tenant, dev, h)
	if err != nil {
		return nil, err
	}
	return askingConn{Conn: c, d: d}, nil
}

type askingConn struct {
	wa.Conn
	d *askOnDisconnect
}

func (c askingConn) Disconnect() {
	if c.d.stopping.Load() {
		c.d.once.Do(c.d.ask)
	}
	c.Conn.Disconnect()
}

// A worker provisions the streams at WA_STREAM_REPLICAS: on a three-node
// cluster with 3, each stream it opens has three replicas.
func TestOpenProvisionsAtTheConfiguredReplicas(t *testing.T) {
	t.Parallel()
	cluster := testenv.NATSCluster(t)
	cfg, err := config.Load(func(string) (string, bool) { return "", false }, "w1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.NATSURL, cfg.SubjectPrefix = testenv.PostgresDB(t), cluster.URL(), testenv.Prefix(t)
	cfg.StreamReplicas = 3
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	deps, closeDeps, err := worker.Open(ctx, cfg, workertest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer closeDeps()
	for _, name := range []string{deps.Names.SendStream(), deps.Names.EventsStream(), deps.Names.DLQStream()} {
		st, err := deps.JS.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if info.Config.Replicas != 3 {
			t.Errorf("stream %s has %d replicas, want WA_STREAM_REPLICAS=3", name, info.Config.Replicas)
		}
	}
}
