package session

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// sessionEvents returns the session events of tenant on the bus, in order.
func sessionEvents(t testing.TB, s *testenv.Stack, tenant string) []event.Session {
	t.Helper()
	return testenv.Events[event.Session](t, s, tenant, vocab.EventSession)
}

func hasState(evs []event.Session, state string) bool {
	for _, e := range evs {
		if e.State == state {
			return true
		}
	}
	return false
}

func TestPairedTenantIsRestoredAfterRestartWithoutRepairing(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	watch := watchConns(t, s)
	createTenant(t, s, "acme")
	w := startWorker(t, s, "w1", Config{})
	jid := pair(t, s, nc, "acme")
	if jid == "" {
		t.Fatal("no device recorded after pairing")
	}
	w.stop()
	if st := testenv.State(t, s, "acme"); st != StateDisconnected {
		t.Fatalf("state after a clean stop = %s, want disconnected", st)
	}

	startWorker(t, s, "w1", Config{})
	testenv.WaitState(t, s, "acme", StateConnected)
	if got := testenv.Device(t, s, "acme"); got != jid {
		t.Fatalf("device after restart = %s, want the paired %s (no re-pairing)", got, jid)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device`); n != 1 {
		t.Fatalf("%d devices stored, want 1", n)
	}
	testenv.Eventually(t, 5*time.Second, "second connection seen", func() bool { return watch.connections("acme") == 2 })
	testenv.Eventually(t, 10*time.Second, "session events published", func() bool {
		evs := sessionEvents(t, s, "acme")
		return len(evs) >= 5 && evs[len(evs)-1].State == StateConnected
	})
	evs := sessionEvents(t, s, "acme")
	if !hasState(evs, StatePairing) || !hasState(evs, StateDisconnected) || evs[len(evs)-1].Worker != "w1" || evs[len(evs)-1].JID != jid {
		t.Fatalf("session events %+v", evs)
	}
}

func TestSimLogoutDeletesCredentialsAndStops(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	watch := watchConns(t, s)
	createTenant(t, s, "acme")
	w := startWorker(t, s, "w1", Config{})
	jid := pair(t, s, nc, "acme")

	if rep := ask(t, nc, s.Names.Sim("acme", "logout"), nil); rep.Error != "" {
		t.Fatalf("logout: %+v", rep)
	}
	testenv.WaitState(t, s, "acme", StateLoggedOut)
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, jid); n != 0 {
		t.Fatal("device credentials still stored after logout")
	}
	if testenv.Device(t, s, "acme") != "" {
		t.Fatal("tenant still points at a device")
	}
	testenv.Eventually(t, 5*time.Second, "session ended and lease released", func() bool {
		return w.M.Session("acme") == nil && testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_lease`) == 0
	})
	testenv.Eventually(t, 10*time.Second, "logged_out event on the bus", func() bool {
		return hasState(sessionEvents(t, s, "acme"), StateLoggedOut)
	})
	if n := testutil.ToFloat64(w.M.metrics.reconnects); n != 0 {
		t.Fatalf("%v reconnect attempts after a logout", n)
	}
	if watch.connections("acme") != 1 || watch.liveOn("acme") != "" {
		t.Fatalf("connections %d, live on %q: want 1 and none", watch.connections("acme"), watch.liveOn("acme"))
	}
	// a control request now finds a tenant without device
	if rep := ask(t, nc, s.Names.Ctl("acme", ctl.OpReconnect), nil); rep.Code != ctl.CodeNotPaired {
		t.Fatalf("reconnect after logout = %+v, want not_paired", rep)
	}
}

func TestSimDisconnectReconnectsByItself(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	watch := watchConns(t, s)
	createTenant(t, s, "acme")
	w := startWorker(t, s, "w1", Config{})
	pair(t, s, nc, "acme")
	if rep := ask(t, nc, s.Names.Sim("acme", "disconnect"), nil); rep.Error != "" {
		t.Fatalf("disconnect: %+v", rep)
	}
	testenv.Eventually(t, 10*time.Second, "reconnected", func() bool {
		return watch.connections("acme") == 2 && watch.liveOn("acme") == "w1"
	})
	testenv.WaitState(t, s, "acme", StateConnected)
	if n := testenv.QueryInt(t, s.Pool, `SELECT reconnects FROM wabus_tenant WHERE id = 'acme'`); n != 1 {
		t.Fatalf("reconnects = %d, want 1", n)
	}
	if n := testutil.ToFloat64(w.M.metrics.reconnects); n != 1 {
		t.Fatalf("reconnect metric = %v", n)
	}
}

func TestControlOfUnknownTenantAndScanWithoutQR(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "idle")
	startWorker(t, s, "w1", Config{})
	if rep := ask(t, nc, s.Names.Ctl("ghost", ctl.OpPair), nil); rep.Code != ctl.CodeNotFound {
		t.Fatalf("pair of unknown tenant = %+v", rep)
	}
	if rep := ask(t, nc, s.Names.Sim("idle", "scan"), nil); rep.Code != "not_pairing" {
		t.Fatalf("scan with no QR shown = %+v", rep)
	}
	if rep := ask(t, nc, s.Names.Ctl("idle", "explode"), nil); rep.Code != ctl.CodeInvalid {
		t.Fatalf("unknown op = %+v", rep)
	}
}

func TestPairingTimesOutToUnpaired(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "slow")
	w := startWorker(t, s, "w1", Config{}, func(c *sim.Config) {
		c.QRTimeouts = []time.Duration{300 * time.Millisecond, 200 * time.Millisecond}
	})
	sub, err := nc.SubscribeSync(s.Names.Pairing("slow"))
	if err != nil {
		t.Fatal(err)
	}
	first := ask(t, nc, s.Names.Ctl("slow", ctl.OpPair), nil)
	if first.QR == "" || first.ExpiresIn != 1 {
		t.Fatalf("pair reply %+v", first)
	}
	var got []ctl.PairingEvent
	for len(got) == 0 || got[len(got)-1].Event != ctl.PairingTimeout {
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("pairing events so far %+v: %v", got, err)
		}
		var ev ctl.PairingEvent
		json.Unmarshal(msg.Data, &ev)
		got = append(got, ev)
	}
	codes := 0
	for _, ev := range got {
		if ev.Event == ctl.PairingQR {
			codes++
		}
	}
	if codes != 2 || got[0].Code != first.QR {
		t.Fatalf("pairing events %+v: want the two codes shown, the first as answered, then timeout", got)
	}
	testenv.WaitState(t, s, "slow", StateUnpaired)
	testenv.Eventually(t, 5*time.Second, "lease let go", func() bool { return w.M.Session("slow") == nil })
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device`); n != 0 {
		t.Fatalf("%d devices stored after a pairing that timed out", n)
	}
}

// messageEvents returns the message events of tenant on the bus.
func messageEvents(t testing.TB, s *testenv.Stack, tenant string) map[string][]event.Message {
	t.Helper()
	return testenv.EventsBy(t, s, tenant, vocab.EventMessage, func(d event.Message) string { return d.MessageID })
}

func TestSimInboundBecomesAMessageEvent(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	startWorker(t, s, "w1", Config{})
	pair(t, s, nc, "acme")
	rep := ask(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51987654321", "text": "hola", "id": "MSG1"})
	if rep.Error != "" {
		t.Fatalf("inbound: %+v", rep)
	}
	testenv.Eventually(t, 10*time.Second, "message event", func() bool { return len(messageEvents(t, s, "acme")["MSG1"]) == 1 })
	m := messageEvents(t, s, "acme")["MSG1"][0]
	if m.Sender != "51987654321@s.whatsapp.net" || m.Chat != m.Sender || m.Text != "hola" || m.Type != "text" || m.IsGroup || m.FromMe || m.Timestamp.IsZero() {
		t.Fatalf("message data %+v", m)
	}
	if rep := ask(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "not a phone", "text": "x"}); rep.Code != "invalid_request" {
		t.Fatalf("bad inbound = %+v", rep)
	}
	testenv.Eventually(t, 5*time.Second, "acknowledged message left the simulated server", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_sim_inbound`) == 0
	})
}

func TestInboundWaitsForPostgresAndIsNotLost(t *testing.T) {
	t.Parallel()
	s, cluster := testenv.NewPrivateStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	startWorker(t, s, "w1", Config{LeaseTTL: 15 * time.Second})
	pair(t, s, nc, "acme")

	cluster.Stop()
	// the simulated server accepts the message; the worker cannot make it
	// durable, so it does not acknowledge it and the server redelivers
	rep := ask(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51987654321", "text": "while down", "id": "DOWN1"})
	if rep.Error != "" {
		t.Fatalf("inbound while postgres is down: %+v", rep)
	}
	cluster.Start()
	testenv.Eventually(t, 30*time.Second, "message event once postgres is back", func() bool {
		return len(messageEvents(t, s, "acme")["DOWN1"]) >= 1
	})
	testenv.Eventually(t, 10*time.Second, "server forgets the acknowledged message", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_sim_inbound`) == 0
	})
	if n := len(messageEvents(t, s, "acme")["DOWN1"]); n != 1 {
		t.Fatalf("message appears %d times on the bus, want once", n)
	}
}

func TestHandlerPanicIsRecoveredAndCounted(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	w := startWorker(t, s, "w1", Config{})
	pair(t, s, nc, "acme")
	var once sync.Once
	w.M.testHookInbound = func(string) { once.Do(func() { panic("handler bug") }) }
	ask(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51987654321", "text": "boom", "id": "P1"})
	testenv.Eventually(t, 10*time.Second, "message stored after the panic, on redelivery", func() bool {
		return len(messageEvents(t, s, "acme")["P1"]) == 1
	})
	if n := testutil.ToFloat64(w.M.metrics.panics); n != 1 {
		t.Fatalf("panics recovered = %v, want 1", n)
	}
	if st := testenv.State(t, s, "acme"); st != StateConnected {
		t.Fatalf("state after the panic = %s", st)
	}
}

// A tenant deleted while its QR code is shown: the phone's scan still
// completes the pairing, but the device belongs to nobody, so it is logged
// out and its credentials deleted instead of left behind.
func TestDevicePairedForADeletedTenantIsRemoved(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	migrate(t, s)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "gone")
	w := startWorker(t, s, "w1", Config{LeaseTTL: time.Hour}) // no renewal during the test
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
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device`); n != 0 {
		t.Fatalf("%d devices left in the store for a deleted tenant", n)
	}
}
