package send_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// benchTenants is 1,000 unless WABUS_BENCH_TENANTS says otherwise.
var benchTenants = func() int {
	if n, err := strconv.Atoi(os.Getenv("WABUS_BENCH_TENANTS")); err == nil && n > 0 {
		return n
	}
	return 1000
}()

// benchRate paces BenchmarkSendEndToEnd's publisher at WABUS_BENCH_RATE
// jobs a second (0: as fast as JetStream takes them).
var benchRate = func() float64 {
	r, _ := strconv.ParseFloat(os.Getenv("WABUS_BENCH_RATE"), 64)
	return max(r, 0)
}()

// BenchmarkSendEndToEnd publishes b.N jobs round-robin over 1,000 paired
// sim tenants (rate limit off; WABUS_BENCH_TENANTS changes the count,
// WABUS_BENCH_RATE paces the publisher, to measure latency below the
// maximum rate) and
// stops the clock when the last sent event arrives: JetStream, ingest into
// the job table, claim, send, outcome and outbox relay. It reports jobs/s and publish→sent latency percentiles.
// Compare with BenchmarkBaselineJetStream and BenchmarkBaselinePostgres
// from the same run. Run with -benchtime=20000x.
func BenchmarkSendEndToEnd(b *testing.B) {
	s := testenv.NewStack(b)
	seed(b, s, benchTenants)
	cfg := workertest.Config(b, s, "w1")
	cfg.LeaseTTL = 15 * time.Second // the contract's default, as in production
	workertest.Start(b, s, cfg)
	testenv.Eventually(b, 120*time.Second, "tenants connected", func() bool {
		return testenv.QueryInt(b, s.Pool, `SELECT count(*) FROM wabus_tenant WHERE state = 'connected'`) == int64(benchTenants)
	})
	testenv.Eventually(b, 60*time.Second, "ingest partitions held", func() bool {
		return testenv.QueryInt(b, s.Pool, `SELECT count(*) FROM wabus_ingest_lease WHERE owner = 'w1'`) == bus.SendPartitions
	})
	nc := s.NATS.Conn(b)
	published := make([]time.Time, b.N)
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	done := make(chan struct{})
	sub, err := nc.Subscribe(s.Names.Event("*", vocab.EventSent), func(m *nats.Msg) {
		var ev event.Event
		var n int
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		if _, err := fmt.Sscanf(ev.Subject, "j%d", &n); err != nil || n >= len(published) {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		lat = append(lat, time.Since(published[n]))
		if len(lat) == b.N {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	nc.Flush()
	b.ResetTimer()
	stopProfile := profileSend(b)
	start := time.Now()
	for i := range b.N {
		if benchRate > 0 { // paced: job i is due at i/rate
			if ahead := time.Until(start.Add(time.Duration(float64(i) / benchRate * float64(time.Second)))); ahead > time.Millisecond {
				time.Sleep(ahead)
			}
		}
		tenant := fmt.Sprintf("t%04d", i%benchTenants)
		body, _ := json.Marshal(map[string]string{"id": fmt.Sprintf("j%d", i), "to": "+51987654321", "text": "hola"})
		mu.Lock()
		published[i] = time.Now()
		mu.Unlock()
		if _, err := s.JS.PublishAsync(s.Names.Send(tenant), body, jetstream.WithMsgID(fmt.Sprintf("j%d", i))); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 || benchRate > 0 && i%50 == 49 {
			<-s.JS.PublishAsyncComplete()
		}
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		b.Fatalf("only %d of %d sent events arrived; %s", got, b.N, whereJobsAre(b, s))
	}
	b.StopTimer()
	stopProfile()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}

// profileSend writes a CPU profile of the timed part alone (publish to the
// last sent event, not the seeding) to WABUS_BENCH_CPUPROFILE, when set.
func profileSend(b *testing.B) (stop func()) {
	path := os.Getenv("WABUS_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// whereJobsAre says where the jobs of a stalled run are: the job table by
// status, the jobs not sent, and what the send stream still holds.
func whereJobsAre(b *testing.B, s *testenv.Stack) string {
	ctx := context.Background()
	var out strings.Builder
	rows, err := s.Pool.Query(ctx, `SELECT status, count(*) FROM wabus_job GROUP BY status ORDER BY status`)
	if err == nil {
		for rows.Next() {
			var st string
			var n int64
			_ = rows.Scan(&st, &n)
			fmt.Fprintf(&out, "%s=%d ", st, n)
		}
		rows.Close()
	}
	rows, err = s.Pool.Query(ctx, `SELECT tenant, job_id, status, attempts, code, updated_at::text FROM wabus_job WHERE status <> 'sent' ORDER BY seq LIMIT 10`)
	if err == nil {
		for rows.Next() {
			var tenant, id, st, code, at string
			var n int
			_ = rows.Scan(&tenant, &id, &st, &n, &code, &at)
			fmt.Fprintf(&out, "[%s %s %s attempts=%d code=%q at %s] ", tenant, id, st, n, code, at)
		}
		rows.Close()
	}
	var outboxRows int64
	_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM wabus_outbox`).Scan(&outboxRows)
	fmt.Fprintf(&out, "outbox=%d ", outboxRows)
	if st, err := s.JS.Stream(ctx, s.Names.SendStream()); err == nil {
		if info, err := st.Info(ctx); err == nil {
			fmt.Fprintf(&out, "send stream msgs=%d consumers=%d", info.State.Msgs, info.State.Consumers)
		}
	}
	return out.String()
}

// seed stores n paired sim tenants directly, as pairing would.
func seed(b *testing.B, s *testenv.Stack, n int) {
	b.Helper()
	ctx := context.Background()
	store := wmdriver.NewStore(s.Pool, workertest.Logger())
	if err := db.Migrate(ctx, s.Pool, store.Upgrade); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		tenant := fmt.Sprintf("t%04d", i)
		jid, err := sim.StoreDevice(ctx, store.NewDevice(), tenant)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id, device_jid, jid) VALUES ($1, $2, $2)`, tenant, jid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineJetStream: raw JetStream publish → consume → ack of
// b.N small messages through one durable consumer.
func BenchmarkBaselineJetStream(b *testing.B) {
	s := testenv.NewStack(b)
	ctx := context.Background()
	cons, err := s.JS.CreateOrUpdateConsumer(ctx, s.Names.SendStream(), jetstream.ConsumerConfig{
		Durable: "baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 10000,
	})
	if err != nil {
		b.Fatal(err)
	}
	var got sync.WaitGroup
	got.Add(b.N)
	cc, err := cons.Consume(func(m jetstream.Msg) { m.Ack(); got.Done() })
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	publishAndWait(b, s, &got)
}

// BenchmarkBaselinePostgres: raw single-row commits from 8 connections.
func BenchmarkBaselinePostgres(b *testing.B) {
	s := testenv.NewStack(b)
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `CREATE TABLE baseline (id bigint PRIMARY KEY, body text)`); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range 8 {
		wg.Go(func() {
			for i := c; i < b.N; i += 8 {
				if _, err := s.Pool.Exec(ctx, `INSERT INTO baseline VALUES ($1, 'x')`, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkBaselineJetStreamPerTenant: the same as BenchmarkBaselineJetStream
// through v1's consumer layout: one filtered durable consumer per tenant
// (benchTenants of them), each read with a window of 32 and acked one
// message at a time. It is what the per-tenant consumers of v1 cost
// nats-server, with nothing else in the way (nats-server 2.15 refuses more
// than 1,000 consumers on a stream by default).
func BenchmarkBaselineJetStreamPerTenant(b *testing.B) {
	s := testenv.NewStack(b)
	ctx := context.Background()
	var got sync.WaitGroup
	got.Add(b.N)
	for i := range benchTenants {
		tenant := fmt.Sprintf("t%04d", i)
		cons, err := s.JS.CreateOrUpdateConsumer(ctx, s.Names.SendStream(), jetstream.ConsumerConfig{
			Durable: "baseline-" + tenant, FilterSubject: s.Names.SendStored(tenant)[0],
			AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 32,
		})
		if err != nil {
			b.Fatal(err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(32))
		if err != nil {
			b.Fatal(err)
		}
		defer it.Stop()
		go func() {
			for {
				m, err := it.Next()
				if err != nil {
					return
				}
				m.Ack()
				got.Done()
			}
		}()
	}
	publishAndWait(b, s, &got)
}

// publishAndWait times b.N small jobs published round-robin over
// benchTenants tenants until got is done, and reports msgs/s.
func publishAndWait(b *testing.B, s *testenv.Stack, got *sync.WaitGroup) {
	body := []byte(`{"id":"x","to":"+51987654321","text":"hola"}`)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.JS.PublishAsync(s.Names.Send(fmt.Sprintf("t%04d", i%benchTenants)), body); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-s.JS.PublishAsyncComplete()
		}
	}
	got.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
