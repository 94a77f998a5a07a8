package session

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// BenchmarkRestore2000 measures how long a worker takes to restore 2,000
// paired sim tenants (start to all connected; goal < 10 s) and the memory
// each idle session holds (heap and stacks after GC, divided by sessions;
// goal <= 1 MiB). Run with -benchtime=1x.
func BenchmarkRestore2000(b *testing.B) {
	const tenants = 2000
	for range b.N {
		b.StopTimer()
		s := testenv.NewStack(b)
		migrate(b, s)
		seedPairedTenants(b, s, tenants)
		before := testenv.MemInUse()
		b.StartTimer()
		start := time.Now()
		w := startWorker(b, s, "w1", Config{LeaseTTL: 30 * time.Second})
		testenv.Eventually(b, 120*time.Second, "all tenants connected", func() bool {
			return w.M.states()[StateConnected] == tenants
		})
		elapsed := time.Since(start)
		b.StopTimer()
		perSession := float64(testenv.MemInUse()-before) / tenants
		b.ReportMetric(elapsed.Seconds(), "restore-s")
		b.ReportMetric(perSession/1024, "KiB/session")
		w.stop()
	}
}

func seedPairedTenants(b *testing.B, s *testenv.Stack, n int) {
	b.Helper()
	ctx := context.Background()
	store := wmdriver.NewStore(s.Pool, testLogger())
	for i := range n {
		tenant := fmt.Sprintf("t%05d", i)
		jid, err := sim.StoreDevice(ctx, store.NewDevice(), tenant)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id, device_jid, jid) VALUES ($1, $2, $2)`, tenant, jid); err != nil {
			b.Fatal(err)
		}
	}
}
