package session

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// newIdleManager builds a Manager on the simulator that is not running:
// tests drive its lease.Owner methods themselves.
func newIdleManager(t *testing.T, s *testenv.Stack) *Manager {
	t.Helper()
	log := testLogger()
	reg := prometheus.NewRegistry()
	driver, err := sim.New(sim.Config{WorkerID: "w1", Names: s.Names}, s.Pool, s.NATS.Conn(t), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = driver.Close() })
	relay, err := outbox.NewRelay(outbox.RelayConfig{}, s.Pool, s.NATS.JetStream(t), log, reg)
	if err != nil {
		t.Fatal(err)
	}
	writer := outbox.NewWriter(s.Pool, relay.Notify)
	m, err := New(Config{WorkerID: "w1"}, Deps{Pool: s.Pool, Store: wmdriver.NewStore(s.Pool, log), Driver: driver,
		NATS: s.NATS.Conn(t), JS: s.NATS.JetStream(t), Names: s.Names, Logger: log, Registry: reg,
		Writer: writer})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { writer.Run(ctx, 1) }) // the sessions' state writes
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	m.runCtx = ctx
	return m
}

// A new lease for a tenant whose old session is ending by itself at that
// moment (logged out, say) starts the new session: the old one's ending
// does not wait on the Manager that waits on it.
func TestStartWhileOldSessionEndsByItself(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	m := newIdleManager(t, s)
	old := &Session{m: m, tenant: "acme", ctx: m.runCtx, done: make(chan struct{})}
	old.cancel = func() { // the run loop is past its last step: it ends
		go func() {
			m.ended(old)
			close(old.done)
		}()
	}
	m.sessions["acme"] = old

	started := make(chan struct{})
	go func() {
		m.Start(lease.Lease{Tenant: "acme", Epoch: 2})
		close(started)
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("Start still blocked 30s after the old session ended: deadlock")
	}
	if cur := m.session("acme"); cur == nil || cur == old || cur.lease.Epoch != 2 {
		t.Fatalf("session after Start = %+v, want the new one under epoch 2", cur)
	}
	m.Stop("acme")
}

// failStateWrites makes the first n writes of state to wabus_tenant fail
// (a sequence counts them: it is not rolled back with the failed write).
func failStateWrites(t *testing.T, s *testenv.Stack, state string, n int) {
	t.Helper()
	_, err := s.Pool.Exec(context.Background(), `CREATE SEQUENCE test_fail_seq;
CREATE FUNCTION test_fail_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = '`+state+`' AND nextval('test_fail_seq') <= `+fmt.Sprint(n)+` THEN
		RAISE EXCEPTION 'injected failure';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER test_fail_state BEFORE UPDATE ON wabus_tenant FOR EACH ROW EXECUTE FUNCTION test_fail_state()`)
	if err != nil {
		t.Fatal(err)
	}
}

// A state change whose write fails (Postgres restarting, say) is written
// again until it is recorded: the row and its session event are not lost.
func TestStateWriteIsRetriedAfterADatabaseError(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	startWorker(t, s, "w1", Config{})
	failStateWrites(t, s, StateConnected, 2)
	pair(t, s, nc, "acme") // waits for the row to say connected
	testenv.Eventually(t, 10*time.Second, "connected event on the bus", func() bool {
		return hasState(sessionEvents(t, s, "acme"), StateConnected)
	})
}

// syncBuffer is a bytes.Buffer that many goroutines may write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fullJID is a user JID whose number is whole: seven digits or more
// before the device or the server.
var fullJID = regexp.MustCompile(`\d{7,}(:\d+)?@(s\.whatsapp\.net|lid)`)

// A worker that discards a paired device (its tenant was deleted during
// pairing) says so at WARN without the device's phone number in full.
func TestDiscardedDeviceIsLoggedWithoutItsNumber(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "gone")
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	driver, err := sim.New(sim.Config{WorkerID: "w1", Names: s.Names}, s.Pool, nc, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = driver.Close() })
	w := runTestWorker(t, s, "w1", Config{LeaseTTL: time.Hour}, driver, log, nil)
	if rep := ask(t, nc, s.Names.Ctl("gone", ctl.OpPair), nil); rep.QR == "" {
		t.Fatalf("pair: %+v", rep)
	}
	if _, err := s.Pool.Exec(context.Background(), `DELETE FROM wabus_tenant WHERE id = 'gone'`); err != nil {
		t.Fatal(err)
	}
	if rep := ask(t, nc, s.Names.Sim("gone", "scan"), nil); rep.Error != "" {
		t.Fatalf("scan: %+v", rep)
	}
	testenv.Eventually(t, 10*time.Second, "session ended", func() bool { return w.M.Session("gone") == nil })
	out := logs.String()
	if !strings.Contains(out, "paired a device that cannot be kept") {
		t.Fatalf("no warning about the discarded device in %s", out)
	}
	if m := fullJID.FindString(out); m != "" {
		t.Fatalf("a full JID %s is in the logs:\n%s", m, out)
	}
}

// A tenant that WhatsApp logs out cannot send until someone pairs it
// again: its waiting jobs, and the one being sent, fail with logged_out
// (failed event and dead letter) in the transaction that records the
// logout.
func TestLoggedOutTenantsJobsFailWithLoggedOut(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	startWorker(t, s, "w1", Config{})
	pair(t, s, nc, "acme")
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_tenant SET paused = true WHERE id = 'acme'`); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var arrivals []queue.Arrival
	for i, id := range []string{"j1", "j2"} {
		arrivals = append(arrivals, queue.Arrival{Tenant: "acme", JobID: id, Seq: uint64(i + 1), To: "51987654321",
			Kind: "text", Payload: []byte(`{"id":"` + id + `","to":"51987654321","text":"hi"}`),
			PublishedAt: now, ExpiresAt: now.Add(time.Hour)})
	}
	if err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		_, err := queue.Insert(ctx, tx, s.Names, arrivals)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_job SET status = 'sending' WHERE job_id = 'j1'`); err != nil {
		t.Fatal(err)
	}

	if rep := ask(t, nc, s.Names.Sim("acme", "logout"), nil); rep.Error != "" {
		t.Fatalf("logout: %+v", rep)
	}
	testenv.WaitState(t, s, "acme", StateLoggedOut)
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE status = 'failed' AND code = $1`, event.CodeLoggedOut); n != 2 {
		t.Fatalf("%d of 2 jobs failed with logged_out", n)
	}
	testenv.Eventually(t, 10*time.Second, "failed events and dead letters on the bus", func() bool {
		evs := testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Event("acme", vocab.EventFailed))
		for _, m := range evs {
			var ev event.Event
			var d event.Failed
			if json.Unmarshal(m.Data(), &ev) != nil || json.Unmarshal(ev.Data, &d) != nil || d.Code != event.CodeLoggedOut {
				t.Fatalf("failed event %s, want code logged_out", m.Data())
			}
		}
		return len(evs) == 2 && testenv.SubjectMsgs(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("acme")) == 2
	})
}
