package wmdriver_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// BenchmarkConformanceIdleSessionMemory measures the memory an idle real
// whatsmeow session holds while connected to the emulator: N paired tenants
// (WABUS_BENCH_EMU_SESSIONS, default 50) are restored by one manager, and
// heap plus stacks in use after GC grow by MiB/session each (goal <= 3 MiB).
// The emulator runs in this process, so its side of each connection is
// counted too: the figure is an upper bound. Run with -benchtime=1x.
func BenchmarkConformanceIdleSessionMemory(b *testing.B) {
	n := envInt(b, "WABUS_BENCH_EMU_SESSIONS", 50)
	for range b.N {
		b.StopTimer()
		s, emu, devs := pairedEmuTenants(b, n)
		before := testenv.MemInUse()
		b.StartTimer()
		w := startEmuWorker(b, s, emu, "w1", session.Config{LeaseTTL: 30 * time.Second})
		waitAllConnected(b, w, emu, devs)
		b.StopTimer()
		b.ReportMetric(perSessionMiB(before, testenv.MemInUse(), n), "MiB/session")
		w.Stop()
	}
}

// BenchmarkConformanceRestore500 measures how long a worker takes to
// restore 500 (WABUS_BENCH_EMU_RESTORE) real paired whatsmeow sessions from
// Postgres: from the manager's start until every one is logged in to the
// emulator. The pairing beforehand is not timed. Run with -benchtime=1x.
func BenchmarkConformanceRestore500(b *testing.B) {
	n := envInt(b, "WABUS_BENCH_EMU_RESTORE", 500)
	for range b.N {
		b.StopTimer()
		s, emu, devs := pairedEmuTenants(b, n)
		before := testenv.MemInUse()
		b.StartTimer()
		start := time.Now()
		w := startEmuWorker(b, s, emu, "w1", session.Config{LeaseTTL: 30 * time.Second})
		waitAllConnected(b, w, emu, devs)
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(elapsed.Seconds(), "restore-s")
		b.ReportMetric(perSessionMiB(before, testenv.MemInUse(), n), "MiB/session")
		w.Stop()
	}
}

// pairedEmuTenants pairs n tenants through a worker and the emulator, then
// stops that worker, leaving them paired in Postgres and disconnected.
// Pairing runs 16 at a time; the pairing worker's database connections
// commit asynchronously, because whatsmeow stores each of a new device's
// 812 prekeys in a transaction of its own. The sessions restored afterwards
// use the stack's ordinary pool.
func pairedEmuTenants(b *testing.B, n int) (*testenv.Stack, *waemu.Server, []types.JID) {
	b.Helper()
	start := time.Now()
	s, emu := newEmuStack(b, waemu.Config{})
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id) SELECT 't' || lpad(i::text, 5, '0') FROM generate_series(0, $1 - 1) i`, n); err != nil {
		b.Fatal(err)
	}
	setup := *s
	setup.Pool = testenv.Pool(b, withAsyncCommit(b, s.DBURL))
	nc := s.NATS.Conn(b)
	pairer := startEmuWorker(b, &setup, emu, "w1", session.Config{LeaseTTL: 30 * time.Second})
	devs := make([]types.JID, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			devs[i], errs[i] = pairEmuCtx(pctx, &setup, nc, emu, fmt.Sprintf("t%05d", i))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	pairer.Stop()
	testenv.Eventually(b, emuWait, "emulator sees every device go", func() bool {
		for _, d := range devs {
			if emu.Connected(d) {
				return false
			}
		}
		return true
	})
	b.ReportMetric(time.Since(start).Seconds(), "setup-s")
	return s, emu, devs
}

// waitAllConnected waits until every device is logged in to the emulator
// and its session is connected.
func waitAllConnected(b *testing.B, w *emuWorker, emu *waemu.Server, devs []types.JID) {
	b.Helper()
	testenv.Eventually(b, 10*time.Minute, "all sessions connected", func() bool {
		if metricValue(b, w.Registry, "wabus_sessions_by_state", "state", vocab.StateConnected) != float64(len(devs)) {
			return false
		}
		for _, d := range devs {
			if !emu.Connected(d) {
				return false
			}
		}
		return true
	})
}

func withAsyncCommit(b *testing.B, dbURL string) string {
	b.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

func perSessionMiB(before, after uint64, n int) float64 {
	return float64(int64(after)-int64(before)) / float64(n) / (1 << 20)
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
