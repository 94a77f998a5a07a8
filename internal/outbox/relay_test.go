package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newRelay(t testing.TB, pool *pgxpool.Pool, js jetstream.JetStream, cfg RelayConfig) *Relay {
	t.Helper()
	r, err := NewRelay(cfg, pool, js, quiet, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs r until the test ends and returns a func that stops it and
// returns Run's error.
func start(t testing.TB, r *Relay) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func msg(t testing.TB, names bus.Names, tenant string, i int) Message {
	t.Helper()
	ev, err := event.New(tenant, vocab.EventSession, event.StableID(tenant, fmt.Sprint(i)), "", time.Now(),
		event.Session{State: "connected", Worker: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Event(names.Event(tenant, vocab.EventSession), ev)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// enqueue commits n events, per transactions of batch.
func enqueue(t testing.TB, pool *pgxpool.Pool, names bus.Names, from, n, batch int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i += batch {
		var msgs []Message
		for j := i; j < min(i+batch, from+n); j++ {
			msgs = append(msgs, msg(t, names, "acme", j))
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return Enqueue(ctx, tx, msgs...) })
		if err != nil {
			t.Fatalf("enqueue: %v", err)
		}
		// as the writer's relay would after its commit
		if _, err := pool.Exec(ctx, "SELECT pg_notify('wabus_outbox', '')"); err != nil {
			t.Fatalf("notify: %v", err)
		}
	}
}

// assertExactlyOnce checks that the events stream holds exactly the ids of
// events [0,n) of tenant acme, each once.
func assertExactlyOnce(t *testing.T, s *testenv.Stack, n int) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "all events in the stream", func() bool {
		return testenv.StreamMsgs(t, s.JS, s.Names.EventsStream()) >= uint64(n)
	})
	msgs := testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Events("*"))
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.Headers().Get(jetstream.MsgIDHeader)]++
	}
	if len(msgs) != n {
		t.Errorf("stream holds %d messages, want %d", len(msgs), n)
	}
	for i := range n {
		id := event.StableID("acme", fmt.Sprint(i))
		if seen[id] != 1 {
			t.Errorf("event %d (%s) is in the stream %d times, want 1", i, id, seen[id])
		}
	}
	testenv.Eventually(t, 10*time.Second, "outbox emptied", func() bool {
		return testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_outbox") == 0
	})
}

func TestRolledBackEventIsNeverPublished(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := Enqueue(ctx, tx, msg(t, s.Names, "ghost", 1)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s.Pool, s.Names, 0, 1, 1) // a committed marker after it
	start(t, newRelay(t, s.Pool, s.JS, RelayConfig{}))
	assertExactlyOnce(t, s, 1)
	ghosts := testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Events("ghost"))
	if len(ghosts) != 0 {
		t.Fatalf("rolled-back event was published %d times", len(ghosts))
	}
}

func TestRelayDyingAfterAckIsTakenOverWithoutDuplicates(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	enqueue(t, s.Pool, s.Names, 0, 300, 50)

	dying := newRelay(t, s.Pool, s.JS, RelayConfig{BatchSize: 100})
	dying.crashAfterAck = func() bool { return true }
	if err := dying.Run(context.Background()); err != errCrashed {
		t.Fatalf("dying relay returned %v, want errCrashed", err)
	}
	if got := testenv.StreamMsgs(t, s.JS, s.Names.EventsStream()); got != 100 {
		t.Fatalf("the dying relay published %d events before dying, want 100", got)
	}
	if n := testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_outbox"); n != 300 {
		t.Fatalf("outbox has %d rows after the crash, want all 300 still there", n)
	}
	start(t, newRelay(t, s.Pool, s.JS, RelayConfig{BatchSize: 100}))
	assertExactlyOnce(t, s, 300)
}

func TestBacklogWaitsForNATSAndDrains(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	reg := prometheus.NewRegistry()
	r, err := NewRelay(RelayConfig{SweepInterval: 50 * time.Millisecond, AckTimeout: time.Second}, s.Pool, s.JS, quiet, reg)
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	enqueue(t, s.Pool, s.Names, 0, 50, 10)
	testenv.Eventually(t, 10*time.Second, "first events published", func() bool {
		return testenv.StreamMsgs(t, s.JS, s.Names.EventsStream()) == 50
	})

	s.NATS.Stop()
	enqueue(t, s.Pool, s.Names, 50, 450, 10)
	testenv.Eventually(t, 10*time.Second, "backlog gauge shows the waiting rows", func() bool {
		return testutil.ToFloat64(r.metrics.backlog) >= 450
	})
	if n := testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_outbox"); n != 450 {
		t.Fatalf("outbox holds %d rows while NATS is down, want 450", n)
	}
	s.NATS.Start()
	assertExactlyOnce(t, s, 500)
}

func TestRelayRecoversFromPostgresRestart(t *testing.T) {
	t.Parallel()
	s, cluster := testenv.NewPrivateStack(t)
	start(t, newRelay(t, s.Pool, s.JS, RelayConfig{}))
	enqueue(t, s.Pool, s.Names, 0, 100, 10)
	testenv.Eventually(t, 10*time.Second, "events before the restart published", func() bool {
		return testenv.StreamMsgs(t, s.JS, s.Names.EventsStream()) == 100
	})

	cluster.Restart()
	// The pool's old connections are dead; the next use finds out and redials.
	testenv.Eventually(t, 30*time.Second, "enqueue works again", func() bool {
		return s.Pool.Ping(context.Background()) == nil
	})
	enqueue(t, s.Pool, s.Names, 100, 100, 10)
	assertExactlyOnce(t, s, 200)
}

func TestTwoRelaysPublishEachEventOnce(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	r1, err := NewRelay(RelayConfig{BatchSize: 50}, s.Pool, s.JS, quiet, reg1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewRelay(RelayConfig{BatchSize: 50}, s.Pool, s.JS, quiet, reg2)
	if err != nil {
		t.Fatal(err)
	}
	start(t, r1)
	start(t, r2)
	var wg sync.WaitGroup
	const writers, each = 4, 500
	for w := range writers {
		wg.Go(func() { enqueue(t, s.Pool, s.Names, w*each, each, 5) })
	}
	wg.Wait()
	assertExactlyOnce(t, s, writers*each)
	// The stream dedupes, so also count what the relays published: a row
	// published by both would show up here.
	total := testutil.ToFloat64(r1.metrics.published) + testutil.ToFloat64(r2.metrics.published)
	if total != writers*each {
		t.Fatalf("relays published %v events in all, want %d", total, writers*each)
	}
	if testutil.ToFloat64(r1.metrics.published) == 0 || testutil.ToFloat64(r2.metrics.published) == 0 {
		t.Logf("one relay published everything (r1=%v r2=%v)", testutil.ToFloat64(r1.metrics.published), testutil.ToFloat64(r2.metrics.published))
	}
}

func TestNotifyFromAnotherProcessWakesTheRelay(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	// the relay would only sweep after an hour: only a notification wakes it
	asleep := newRelay(t, s.Pool, s.JS, RelayConfig{SweepInterval: time.Hour})
	start(t, asleep)
	testenv.Eventually(t, 10*time.Second, "relay listening", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN wabus_outbox' AND datname = current_database()`) == 1
	})
	ctx := context.Background()
	m := msg(t, s.Names, "acme", 0)
	if err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error { return Enqueue(ctx, tx, m) }); err != nil {
		t.Fatal(err)
	}
	// the writer's own relay, in another process, notifies after the commit
	writer := newRelay(t, s.Pool, s.JS, RelayConfig{})
	notifier, stop := context.WithCancel(ctx)
	defer stop()
	go writer.notifier(notifier)
	writer.Notify()
	assertExactlyOnce(t, s, 1)
}
