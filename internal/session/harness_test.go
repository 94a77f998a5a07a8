package session

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/control"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
)

func testLogger() *slog.Logger {
	if os.Getenv("WABUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func migrate(t testing.TB, s *testenv.Stack) {
	t.Helper()
	store := wmdriver.NewStore(s.Pool, testLogger())
	if err := db.Migrate(context.Background(), s.Pool, store.Upgrade); err != nil {
		t.Fatal(err)
	}
}

// startWorker runs a worker in the test process on the simulator driver.
func startWorker(t testing.TB, s *testenv.Stack, id string, cfg Config, simOpts ...func(*sim.Config)) *testWorker {
	t.Helper()
	log := testLogger().With("worker", id)
	simCfg := sim.Config{WorkerID: id, Names: s.Names}
	for _, o := range simOpts {
		o(&simCfg)
	}
	driver, err := sim.New(simCfg, s.Pool, s.NATS.Conn(t), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = driver.Close() }) // after the worker stopped
	return runTestWorker(t, s, id, cfg, driver, log, nil)
}

// testWorker is the manager under test, with the outbox writer and relay
// it writes through and the control router that reaches it: a worker
// without its send pipeline, whose insides the tests of this package look
// at. (Whole workers are built by worker.New; its tests, and the
// conformance tests in wmdriver, run those.)
type testWorker struct {
	M    *Manager
	Reg  *prometheus.Registry
	stop func()
}

// runTestWorker runs the manager under test on driver, with setup run on
// it before it starts (to set test hooks without a data race), and waits
// until it has registered. Unset reconnect delays are short, the lease 3s.
func runTestWorker(t testing.TB, s *testenv.Stack, id string, cfg Config, driver wa.Driver, log *slog.Logger, setup func(*Manager)) *testWorker {
	t.Helper()
	nc := s.NATS.Conn(t)
	js := s.NATS.JetStream(t)
	reg := prometheus.NewRegistry()
	cfg.WorkerID = id
	cfg.LeaseTTL = cmpDur(cfg.LeaseTTL, 3*time.Second)
	cfg.ReconnectMin = cmpDur(cfg.ReconnectMin, 50*time.Millisecond)
	cfg.ReconnectMax = cmpDur(cfg.ReconnectMax, time.Second)
	relay, err := outbox.NewRelay(outbox.RelayConfig{}, s.Pool, js, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	writer := outbox.NewWriter(s.Pool, relay.Notify)
	m, err := New(cfg, Deps{Pool: s.Pool, Store: wmdriver.NewStore(s.Pool, log), Driver: driver, NATS: nc, JS: js, Names: s.Names,
		Logger: log, Registry: reg, Writer: writer})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(m)
	}
	simCtl, _ := driver.(wa.Controller)
	router, err := control.New(control.Config{WorkerID: id, Names: s.Names, Sim: simCtl}, nc, m, m.Keeper(), log, reg)
	if err != nil {
		t.Fatal(err)
	}
	var infra sync.WaitGroup
	ictx, stopInfra := context.WithCancel(context.Background())
	infra.Go(func() { relay.Run(ictx) })
	infra.Go(func() { writer.Run(ictx, 2) })
	rctx, stopRouter := context.WithCancel(context.Background())
	rdone := make(chan struct{})
	infra.Go(func() {
		defer close(rdone)
		if err := router.Run(rctx); err != nil {
			t.Errorf("control router %s: %v", id, err)
		}
	})
	select {
	case <-router.Ready():
	case <-rdone:
		t.Fatalf("control router %s ended", id)
	}
	mctx, stopManager := context.WithCancel(context.Background())
	mdone := make(chan struct{})
	infra.Go(func() {
		defer close(mdone)
		if err := m.Run(mctx); err != nil {
			t.Errorf("manager %s: %v", id, err)
		}
	})
	var once sync.Once
	w := &testWorker{M: m, Reg: reg}
	w.stop = func() {
		once.Do(func() {
			stopRouter()
			<-rdone
			stopManager()
			<-mdone
			testenv.Eventually(t, 10*time.Second, "outbox drained", func() bool {
				return testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_outbox") == 0
			})
			stopInfra()
			infra.Wait()
		})
	}
	t.Cleanup(w.stop)
	testenv.Eventually(t, 10*time.Second, "worker "+id+" registered", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_worker WHERE id = $1`, id) == 1
	})
	return w
}

func cmpDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func createTenant(t testing.TB, s *testenv.Stack, id string) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO wabus_tenant (id) VALUES ($1)`, id); err != nil {
		t.Fatal(err)
	}
}

// ask sends a control or simulator request and decodes the reply
// (harness.Request, failing the test when no reply comes within 10s).
func ask(t testing.TB, nc *nats.Conn, subject string, body any) ctl.Reply {
	t.Helper()
	rep, err := harness.Request(context.Background(), nc, subject, body, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// pair pairs tenant through the simulator: pair, then scan.
func pair(t testing.TB, s *testenv.Stack, nc *nats.Conn, tenant string) string {
	t.Helper()
	rep := ask(t, nc, s.Names.Ctl(tenant, ctl.OpPair), nil)
	if rep.Error != "" || rep.QR == "" || rep.State != StatePairing {
		t.Fatalf("pair reply %+v, want a QR code while pairing", rep)
	}
	if rep := ask(t, nc, s.Names.Sim(tenant, "scan"), nil); rep.Error != "" {
		t.Fatalf("scan: %+v", rep)
	}
	testenv.WaitState(t, s, tenant, StateConnected)
	return testenv.Device(t, s, tenant)
}

// connWatch follows the simulator's connection notices (harness.Observer)
// and fails the test if a tenant ever had two live connections.
type connWatch struct{ o *harness.Observer }

func watchConns(t testing.TB, s *testenv.Stack) *connWatch {
	o, err := harness.Observe(s.NATS.URL(), s.Names)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, v := range o.Violations() {
			t.Errorf("%s", v)
		}
		o.Close()
	})
	return &connWatch{o: o}
}

// connections counts tenant's connections seen so far.
func (w *connWatch) connections(tenant string) int {
	n := 0
	for _, ev := range w.o.History(tenant) {
		if ev.Kind == "connected" {
			n++
		}
	}
	return n
}

// liveOn names the worker tenant is connected on, "" when none.
func (w *connWatch) liveOn(tenant string) string {
	if live := w.o.Live(tenant); len(live) > 0 {
		return live[0]
	}
	return ""
}
