package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/testing/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// run runs an ingester until the test ends.
func run(t *testing.T, g *Ingester) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// writer runs a group-commit writer until the test ends.
func writer(t *testing.T, s *testenv.Stack) *outbox.Writer {
	t.Helper()
	w := outbox.NewWriter(s.Pool, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx, 2) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return w
}

func liveWorker(t *testing.T, s *testenv.Stack, id string) {
	t.Helper()
	_, err := s.Pool.Exec(context.Background(), `INSERT INTO wabus_worker (id, ctl_subject, expires_at) VALUES ($1, '', now() + interval '1 hour')`, id)
	if err != nil {
		t.Fatal(err)
	}
}

func publish(t *testing.T, s *testenv.Stack, tenant string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		body := fmt.Sprintf(`{"id":%q,"to":"+51987654321","text":"hi"}`, id)
		if _, err := s.JS.Publish(context.Background(), s.Names.Send(tenant), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
}

// partitionOf returns the partition the stream stored tenant's jobs under.
func partitionOf(t *testing.T, s *testenv.Stack, tenant string) int {
	t.Helper()
	ctx := context.Background()
	st, err := s.JS.Stream(ctx, s.Names.SendStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.Names.SendStored(tenant)[0]))
	if err != nil {
		t.Fatal(err)
	}
	for subject := range info.State.Subjects {
		var p int
		if _, err := fmt.Sscanf(s.Names.Token(subject, 1), "%d", &p); err == nil {
			return p
		}
	}
	t.Fatalf("no stored subject for %s", tenant)
	return -1
}

// queuedInOrder returns the tenant's job ids in the order its owner takes
// them (stream sequence).
func queuedInOrder(t *testing.T, s *testenv.Stack, tenant string) []string {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT job_id FROM wabus_job WHERE tenant = $1 ORDER BY seq`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%02d", prefix, i))
	}
	return out
}

// A worker that fetched a batch and stalls before committing it loses its
// partition once its lease expires; the next holder makes the consumer
// anew at the oldest job not acknowledged, so the tenant's jobs are queued
// once each, in stream order, and the stalled batch, committed late, is
// fenced off.
func TestATakeoverMidBatchQueuesInOrderAndFencesTheStalledReader(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	w := writer(t, s)
	liveWorker(t, s, "w1")
	publish(t, s, "acme", ids("job", 0, 10)...)
	part := partitionOf(t, s, "acme")

	g1, err := New(Config{WorkerID: "w1", LeaseTTL: time.Hour}, s.Pool, w, s.JS, s.Names, quiet(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	fetched, release := make(chan struct{}), make(chan struct{})
	var once, released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }

	var g1Commits atomic.Int32
	g1.testHookCommit = func(p int) {
		if p != part {
			return
		}
		once.Do(func() { close(fetched) })
		<-release
		g1Commits.Add(1)
	}
	run(t, g1)
	t.Cleanup(unblock)
	select {
	case <-fetched:
	case <-time.After(30 * time.Second):
		t.Fatal("w1 never fetched acme's jobs")
	}
	// w1 stalls with the batch in hand past its lease; w2 comes up
	if _, err := s.Pool.Exec(context.Background(), `UPDATE wabus_ingest_lease SET expires_at = now() - interval '1 second' WHERE part = $1`, part); err != nil {
		t.Fatal(err)
	}
	liveWorker(t, s, "w2")
	g2, err := New(Config{WorkerID: "w2", LeaseTTL: time.Hour}, s.Pool, w, s.JS, s.Names, quiet(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	run(t, g2)
	testenv.Eventually(t, 15*time.Second, "w2 queues acme's jobs", func() bool { return len(queuedInOrder(t, s, "acme")) == 10 })
	publish(t, s, "acme", ids("job", 10, 15)...)
	testenv.Eventually(t, 30*time.Second, "w2 queues the later ones", func() bool { return len(queuedInOrder(t, s, "acme")) == 15 })
	unblock()
	testenv.Eventually(t, 10*time.Second, "w1's late commit is tried", func() bool { return g1Commits.Load() >= 1 })
	publish(t, s, "acme", "job-15")
	testenv.Eventually(t, 30*time.Second, "the last job", func() bool { return len(queuedInOrder(t, s, "acme")) == 16 })
	got := queuedInOrder(t, s, "acme")
	for i, id := range ids("job", 0, 16) {
		if got[i] != id {
			t.Fatalf("queued order %v, want job-00 … job-15", got)
		}
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_ingest_lease WHERE part = $1 AND owner = 'w2'`, part); n != 1 {
		t.Fatal("w2 does not hold acme's partition")
	}
	if n := testenv.StreamMsgs(t, s.JS, s.Names.SendStream()); n != 0 {
		t.Fatalf("%d jobs left in the send stream", n)
	}
}

// Leases spread the partitions evenly over the live workers, and a worker
// that stops hands its partitions over at once.
func TestPartitionsAreSharedAndHandedOverOnStop(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	w := writer(t, s)
	liveWorker(t, s, "w1")
	liveWorker(t, s, "w2")
	held := func(owner string) int64 {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_ingest_lease WHERE owner = $1 AND expires_at > now()`, owner)
	}
	g1, _ := New(Config{WorkerID: "w1", LeaseTTL: time.Second}, s.Pool, w, s.JS, s.Names, quiet(), prometheus.NewRegistry())
	g2, _ := New(Config{WorkerID: "w2", LeaseTTL: time.Second}, s.Pool, w, s.JS, s.Names, quiet(), prometheus.NewRegistry())
	run(t, g1)
	ctx2, stop2 := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = g2.Run(ctx2) })
	testenv.Eventually(t, 20*time.Second, "four partitions each", func() bool { return held("w1") == 4 && held("w2") == 4 })
	stop2()
	wg.Wait()
	if n := held("w2"); n != 0 {
		t.Fatalf("w2 still holds %d partitions after it stopped", n)
	}
	if _, err := s.Pool.Exec(context.Background(), `DELETE FROM wabus_worker WHERE id = 'w2'`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "w1 takes all eight", func() bool { return held("w1") == 8 })
	publish(t, s, "acme", "a")
	testenv.Eventually(t, 20*time.Second, "a job is queued", func() bool { return len(queuedInOrder(t, s, "acme")) == 1 })
}

// A message on a send subject whose tenant token is not a tenant id can
// never be attributed: ingest drops it and counts it, and queues valid
// tenants' jobs.
func TestIngestDropsJobsOfInvalidTenantSubjects(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	w := writer(t, s)
	liveWorker(t, s, "w1")
	for _, tenant := range []string{"acme@x", "acme@x", "ñandú", "acme"} {
		publish(t, s, tenant, "j1")
	}
	g, err := New(Config{WorkerID: "w1"}, s.Pool, w, s.JS, s.Names, quiet(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	run(t, g)
	testenv.Eventually(t, 20*time.Second, "the stream is emptied", func() bool {
		return testenv.StreamMsgs(t, s.JS, s.Names.SendStream()) == 0
	})
	testenv.Eventually(t, 10*time.Second, "three dropped", func() bool { return testutil.ToFloat64(g.metrics.invalid) == 3 })
	if got := queuedInOrder(t, s, "acme"); len(got) != 1 {
		t.Fatalf("acme has %v queued", got)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job`); n != 1 {
		t.Fatalf("%d rows, want acme's job only", n)
	}
}
