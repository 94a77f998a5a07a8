package session

import (
	"context"
	"sync"
	"time"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/session/waemu"
	"github.com/wabus/wabus/internal/testenv"
)

// privateEmuStack is NewEmuStack on a private Postgres cluster that the
// test may stop and start.
func privateEmuStack(t *testing.T) (*testenv.Stack, *testenv.Cluster, *waemu.Server) {
	t.Helper()
	cluster := testenv.PrivatePostgres(t)
	ns := testenv.NATS(t)
	s := &testenv.Stack{DBURL: cluster.URL(), NATS: ns, Names: bus.NewNames(testenv.Prefix(t))}
	s.Pool = testenv.Pool(t, s.DBURL)
	s.JS = ns.JetStream(t)
	if err := bus.Provision(t.Context(), s.JS, s.Names, bus.Config{}); err != nil {
		t.Fatal(err)
	}
	migrate(t, s)
	return s, cluster, waemu.StartConfig(t, waemu.Config{})
}

// Postgres goes down while an inbound message is being stored: every
// attempt fails, so the session drops the connection, and the message,
// never acknowledged, comes back on the next login once Postgres is up.
// Nothing else reconnects the session (the lease outlives the outage and
// the emulator redelivers only on login).
func TestConformanceInboundComesBackAfterPostgresOutage(t *testing.T) {
	t.Parallel()
	s, cluster, emu := privateEmuStack(t)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	var once sync.Once
	w := startEmuWorker(t, s, emu, "w1", Config{LeaseTTL: time.Minute}, func(m *Manager) {
		m.testHookInbound = func(string) {
			once.Do(func() { // the message is decrypted; storing it is next
				if err := cluster.Cluster.Stop(); err != nil {
					t.Errorf("stop postgres: %v", err)
				}
			})
		}
	})
	dev := PairEmu(t, s, nc, emu, "acme")

	id := newMessageID()
	if err := emu.SendText(dev, "+51987654321", id, "hola"); err != nil {
		t.Fatal(err)
	}
	failures := func() float64 { return testutil.ToFloat64(w.M.metrics.inboundFailures.WithLabelValues(bus.KindMessage)) }
	testenv.Eventually(t, emuWait, "three failed attempts at storing the message", func() bool { return failures() >= inboundAttempts })
	if emu.Acked(id) {
		t.Fatal("a message that could not be stored was acknowledged")
	}
	cluster.Start()

	waitEmu(t, "message acknowledged once stored", func(ctx context.Context) error { return emu.WaitAcked(ctx, id) })
	testenv.Eventually(t, emuWait, "message event", func() bool { return len(messageEvents(t, s, "acme")[id]) > 0 })
	if evs := messageEvents(t, s, "acme")[id]; len(evs) != 1 || evs[0].Text != "hola" {
		t.Fatalf("message events %+v, want one with the text", evs)
	}
	if n := emu.Deliveries(id); n != 2 {
		t.Fatalf("message delivered %d times, want 2 (first delivery, then the login after the outage)", n)
	}
	if n := emu.Logins(dev); n != 2 {
		t.Fatalf("device logged in %d times, want 2", n)
	}
	waitState(t, s, "acme", StateConnected)
}
