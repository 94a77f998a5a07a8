// Package workertest runs real workers in the test process (worker.Run on
// the simulator) against a testenv stack, and drives tenants through the
// simulator. It is imported only from _test.go files.
package workertest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/worker"
)

// Config returns a worker configuration for the stack: sim driver, its
// prefix, database and nats-server, no rate limit, a 3s lease, metrics on a
// free port.
func Config(t testing.TB, s *testenv.Stack, id string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(string) (string, bool) { return "", false }, id)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Driver, cfg.WorkerID, cfg.SubjectPrefix = "sim", id, s.Names.Prefix()
	cfg.DatabaseURL, cfg.NATSURL = s.DBURL, s.NATS.URL()
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.SendRate, cfg.LeaseTTL = 0, 3*time.Second
	return cfg
}

// Logger discards logs unless WABUS_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("WABUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start runs a worker with cfg as the worker process does (worker.Run:
// it opens its own connections) until the test ends (or the returned stop
// is called) and waits until it has registered.
func Start(t testing.TB, s *testenv.Stack, cfg config.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, Logger().With("worker", cfg.WorkerID)) }()
	return waitRegistered(t, s, cfg.WorkerID, cancel, done)
}

// Worker is a worker built through worker.New on a stack's connections.
type Worker struct {
	// Registry holds the worker's metrics.
	Registry *prometheus.Registry
	stop     func()
}

// Stop stops the worker (worker.Run's staged shutdown) and waits for it;
// it is idempotent and also runs when the test ends.
func (w *Worker) Stop() { w.stop() }

// StartDeps migrates the stack's database for a worker (worker.Migrate),
// builds a worker for cfg through worker.New on it and the stack's
// nats-server, with deps's Driver, DriverRun and Session (the
// rest of deps is the stack's, with a fresh registry), runs it until the
// test ends or Stop, and waits until it has registered.
func StartDeps(t testing.TB, s *testenv.Stack, cfg config.Config, deps worker.Deps) *Worker {
	t.Helper()
	reg := prometheus.NewRegistry()
	deps.Pool, deps.NATS, deps.JS, deps.Names, deps.Registry = s.Pool, s.NATS.Conn(t), s.JS, s.Names, reg
	if deps.Logger == nil {
		deps.Logger = Logger().With("worker", cfg.WorkerID)
	}
	if err := worker.Migrate(context.Background(), s.Pool, deps.Logger); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, deps)
	if err != nil {
		t.Fatalf("worker %s: %v", cfg.WorkerID, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return &Worker{Registry: reg, stop: waitRegistered(t, s, cfg.WorkerID, cancel, done)}
}

// waitRegistered waits until worker id, which reports on done once
// cancel stopped it, has registered, and returns its idempotent stop
// (also run when the test ends).
func waitRegistered(t testing.TB, s *testenv.Stack, id string, cancel func(), done chan error) (stop func()) {
	t.Helper()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker %s: %v", id, err)
			}
		})
	}
	t.Cleanup(stop)
	testenv.Eventually(t, 30*time.Second, "worker "+id+" registered", func() bool {
		select {
		case err := <-done:
			done <- err // for stop
			t.Fatalf("worker %s exited: %v", id, err)
		default:
		}
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_worker WHERE id = $1`, id) == 1
	})
	return stop
}

// Request sends a control or simulator request and decodes the reply
// (harness.Request, failing the test when no reply comes within 10s).
func Request(t testing.TB, nc *nats.Conn, subject string, body any) ctl.Reply {
	t.Helper()
	rep, err := harness.Request(context.Background(), nc, subject, body, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Pair creates tenant id and pairs it through the simulator, then waits until
// it is connected.
func Pair(t testing.TB, s *testenv.Stack, nc *nats.Conn, id string) {
	t.Helper()
	if _, err := tenant.Create(context.Background(), s.Pool, id); err != nil {
		t.Fatal(err)
	}
	if rep := Request(t, nc, s.Names.Ctl(id, ctl.OpPair), nil); rep.QR == "" {
		t.Fatalf("pair %s: %+v", id, rep)
	}
	if rep := Request(t, nc, s.Names.Sim(id, "scan"), nil); rep.Error != "" {
		t.Fatalf("scan %s: %+v", id, rep)
	}
	WaitState(t, s, id, "connected")
}

// WaitState waits until tenant's recorded state is want (testenv.WaitState).
func WaitState(t testing.TB, s *testenv.Stack, tenant, want string) {
	t.Helper()
	testenv.WaitState(t, s, tenant, want)
}

// Deliveries collects the simulator's delivered notices of every tenant.
type Deliveries struct {
	mu  sync.Mutex
	all []Delivered
}

// Delivered is one notice, with its tenant.
type Delivered struct {
	Tenant string
	sim.Delivered
}

// WatchDeliveries subscribes to every delivered notice under the stack's prefix.
func WatchDeliveries(t testing.TB, s *testenv.Stack, nc *nats.Conn) *Deliveries {
	t.Helper()
	d := &Deliveries{}
	sub, err := nc.Subscribe(s.Names.Sim("*", "delivered"), func(m *nats.Msg) {
		var x Delivered
		if json.Unmarshal(m.Data, &x) != nil {
			return
		}
		x.Tenant = s.Names.Token(m.Subject, 1)
		d.mu.Lock()
		d.all = append(d.all, x)
		d.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	t.Cleanup(func() { sub.Unsubscribe() })
	nc.Flush()
	return d
}

// All returns the notices so far.
func (d *Deliveries) All() []Delivered {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Delivered(nil), d.all...)
}

// Len returns how many notices arrived.
func (d *Deliveries) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.all)
}
