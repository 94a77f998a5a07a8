package queue_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// BenchmarkQueueCycle measures the job table alone: b.N jobs over
// WABUS_BENCH_TENANTS tenants (default 1,000) inserted as ingest does (500
// a transaction), then every tenant claiming and finishing its jobs
// through one group-commit writer, as the owners do; no NATS, no relay.
// It reports jobs/s and the table's bytes per job (heap, TOAST and
// indexes) before the finished rows are pruned.
func BenchmarkQueueCycle(b *testing.B) {
	tenants := 1000
	if n, err := strconv.Atoi(os.Getenv("WABUS_BENCH_TENANTS")); err == nil && n > 0 {
		tenants = n
	}
	s := testenv.NewStack(b)
	ctx := context.Background()
	w := outbox.NewWriter(s.Pool, nil)
	wctx, stop := context.WithCancel(ctx)
	var ww sync.WaitGroup
	ww.Go(func() { w.Run(wctx, 4) })
	defer func() { stop(); ww.Wait() }()
	store := queue.New(s.Pool, w, s.Names)
	if x := os.Getenv("WABUS_BENCH_SQL"); x != "" {
		if _, err := s.Pool.Exec(ctx, x); err != nil {
			b.Fatal(err)
		}
	}
	fences := make([]queue.Fence, tenants)
	for i := range tenants {
		fences[i] = fenced(b, s, fmt.Sprintf("t%05d", i))
	}
	body := []byte(`{"id":"x","to":"+51987654321","text":"hola"}`)
	b.ResetTimer()
	var arrivals []queue.Arrival
	now := time.Now()
	flush := func() {
		err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
			_, err := queue.Insert(ctx, tx, s.Names, arrivals)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		arrivals = arrivals[:0]
	}
	for i := range b.N {
		arrivals = append(arrivals, queue.Arrival{Tenant: fmt.Sprintf("t%05d", i%tenants), JobID: fmt.Sprintf("j%d", i),
			Seq: uint64(i + 1), Payload: body, To: "+51987654321", Kind: "text", PublishedAt: now, ExpiresAt: now.Add(time.Hour)})
		if len(arrivals) == 500 {
			flush()
		}
	}
	if len(arrivals) > 0 {
		flush()
	}
	inserted := time.Since(now)
	var wg sync.WaitGroup
	for i := range tenants {
		wg.Go(func() {
			tenant := fmt.Sprintf("t%05d", i)
			for {
				jobs, err := store.Claim(ctx, tenant, fences[i], 16)
				if err != nil {
					b.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				done := make([]queue.Done, len(jobs))
				for k, j := range jobs {
					done[k] = queue.Done{Job: j, Outcome: queue.Outcome{Sent: true, MessageID: "3EB0X", SentAt: now, Attempts: 1}}
				}
				if err := store.FinishAll(ctx, fences[i], tenant, done); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	b.ReportMetric(float64(b.N)/inserted.Seconds(), "inserts/s")
	size := testenv.QueryInt(b, s.Pool, `SELECT pg_total_relation_size('wabus_job')`)
	b.ReportMetric(float64(size)/float64(b.N), "bytes/job")
}
