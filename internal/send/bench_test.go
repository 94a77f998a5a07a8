package send_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testenv"
	"github.com/wabus/wabus/internal/vocab"
	"github.com/wabus/wabus/internal/worker/workertest"
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
	workertest.Start(b, s, workertest.Config(b, s, "w1"))
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
		b.Fatalf("only %d of %d sent events arrived", len(lat), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}

// seed stores n paired sim tenants directly, as pairing would.
func seed(b *testing.B, s *testenv.Stack, n int) {
	b.Helper()
	ctx := context.Background()
	store := session.OpenStore(s.Pool, workertest.Logger())
	if err := db.Migrate(ctx, s.Pool, session.UpgradeStore(store)); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		tenant := fmt.Sprintf("t%04d", i)
		jid, err := sim.StoreDevice(ctx, store.NewDevice(), tenant)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id, device_jid, jid) VALUES ($1, $2, $2)`, tenant, jid.String()); err != nil {
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
