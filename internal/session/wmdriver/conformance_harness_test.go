package wmdriver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
	"github.com/wabus/wabus/internal/worker"
)

// The conformance tests run whole workers (worker.New) on this driver
// against waemu, the protocol-level WhatsApp emulator, and check that what
// the simulator promises holds with the real client: pairing, restore,
// inbound durability, sends, identities and liveness.

// emuWait bounds each wait on the emulator or a worker; generous, as -race
// on a small machine makes whatsmeow's crypto slow.
const emuWait = 30 * time.Second

// whatsmeow pings every 20-30s and gives each ping 10s. The conformance
// tests ping every second or two, so that a half-open socket shows in
// seconds; their Liveness.KeepAliveTimeout is set to match. The values are
// process globals, set before any client exists.
func init() {
	whatsmeow.KeepAliveIntervalMin = time.Second
	whatsmeow.KeepAliveIntervalMax = 2 * time.Second
	whatsmeow.KeepAliveResponseDeadline = 2 * time.Second
}

// keepAlivePeriod is the longest a keepalive failure takes to show in the
// conformance tests: the longest interval plus the response deadline.
const keepAlivePeriod = 4 * time.Second

// migrate migrates the stack's database for a worker.
func migrate(t testing.TB, s *testenv.Stack) {
	t.Helper()
	if err := worker.Migrate(context.Background(), s.Pool, workertest.Logger()); err != nil {
		t.Fatal(err)
	}
}

// newEmuStack returns a migrated stack and an emulator started after it, so
// that the emulator closes after the test's workers and before the stack.
func newEmuStack(t testing.TB, cfg waemu.Config) (*testenv.Stack, *waemu.Server) {
	t.Helper()
	s := testenv.NewStack(t)
	migrate(t, s)
	return s, waemu.StartConfig(t, cfg)
}

// emuWorker is a worker in the test process on this driver.
type emuWorker = workertest.Worker

// startEmuWorker starts a worker with a new driver routed to emu and waits
// until it has registered; see startWorkerOn for cfg.
func startEmuWorker(t testing.TB, s *testenv.Stack, emu *waemu.Server, id string, cfg session.Config) *emuWorker {
	t.Helper()
	return startEmuWorkerDriver(t, s, emu, id, cfg, wmdriver.Config{})
}

// startEmuWorkerDriver is startEmuWorker with a driver configured by dcfg
// (its HTTPClient is the emulator's).
func startEmuWorkerDriver(t testing.TB, s *testenv.Stack, emu *waemu.Server, id string, cfg session.Config, dcfg wmdriver.Config) *emuWorker {
	t.Helper()
	dcfg.HTTPClient = emu.HTTPClient()
	return startWorkerOn(t, s, id, cfg, wmdriver.New(dcfg, workertest.Logger()), nil)
}

// startWorkerOn builds a worker through worker.New on driver (with run
// beside its sessions, when set), runs it until the test ends, and waits
// until it has registered. cfg is its sessions' configuration; unset
// reconnect delays are short, the lease 3s.
func startWorkerOn(t testing.TB, s *testenv.Stack, id string, cfg session.Config, driver wa.Driver, run func(context.Context) error) *emuWorker {
	t.Helper()
	wcfg := workertest.Config(t, s, id)
	wcfg.Driver = driver.Name()
	wcfg.LeaseTTL = orDefault(cfg.LeaseTTL, 3*time.Second)
	cfg.WorkerID, cfg.LeaseTTL = id, wcfg.LeaseTTL
	cfg.ReconnectMin = orDefault(cfg.ReconnectMin, 50*time.Millisecond)
	cfg.ReconnectMax = orDefault(cfg.ReconnectMax, time.Second)
	w := workertest.StartDeps(t, s, wcfg, worker.Deps{Driver: driver, DriverRun: run,
		Logger:  workertest.Logger().With("worker", id, "test", t.Name()),
		Session: func(c *session.Config) { *c = cfg }})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker %s counters: %s", id, counters(w.Registry))
		}
	})
	return w
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// pairedAcme is where most conformance tests start: tenant acme paired by
// QR on worker w1, connected to a fresh emulator.
func pairedAcme(t *testing.T) (*testenv.Stack, *waemu.Server, *nats.Conn, *emuWorker, types.JID) {
	t.Helper()
	return pairedAcmeWith(t, session.Config{})
}

// pairedAcmeWith is pairedAcme with the sessions' configuration cfg.
func pairedAcmeWith(t *testing.T, cfg session.Config) (*testenv.Stack, *waemu.Server, *nats.Conn, *emuWorker, types.JID) {
	t.Helper()
	s, emu := newEmuStack(t, waemu.Config{})
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	w := startEmuWorker(t, s, emu, "w1", cfg)
	return s, emu, nc, w, pairEmu(t, s, nc, emu, "acme")
}

func createTenant(t testing.TB, s *testenv.Stack, id string) {
	t.Helper()
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO wabus_tenant (id) VALUES ($1)`, id); err != nil {
		t.Fatal(err)
	}
}

// pairEmu pairs tenant as an admin and a phone would: a pair control
// request, its QR code scanned on the emulator, then it waits until the
// tenant is connected, and returns the device JID recorded for it.
func pairEmu(t testing.TB, s *testenv.Stack, nc *nats.Conn, emu *waemu.Server, tenant string) types.JID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	dev, err := pairEmuCtx(ctx, s, nc, emu, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// pairEmuCtx is pairEmu without a testing.TB, for pairing from several
// goroutines.
func pairEmuCtx(ctx context.Context, s *testenv.Stack, nc *nats.Conn, emu *waemu.Server, tenant string) (types.JID, error) {
	code, err := requestQR(ctx, s, nc, tenant)
	if err != nil {
		return types.EmptyJID, err
	}
	if err := emu.ScanQR(code); err != nil {
		return types.EmptyJID, fmt.Errorf("scan the qr code of %s: %w", tenant, err)
	}
	return waitPaired(ctx, s, tenant)
}

// requestQR asks for pairing until the reply carries a QR code: a reply
// that timed out (the first code is slow to come under load) is asked again,
// as an admin would.
func requestQR(ctx context.Context, s *testenv.Stack, nc *nats.Conn, tenant string) (string, error) {
	var replies []ctl.Reply
	for {
		msg, err := nc.RequestWithContext(ctx, s.Names.Ctl(tenant, ctl.OpPair), nil)
		if err != nil {
			return "", fmt.Errorf("pair %s: replies %+v, then: %w", tenant, replies, err)
		}
		var rep ctl.Reply
		if err := json.Unmarshal(msg.Data, &rep); err != nil {
			return "", fmt.Errorf("pair %s: reply %q: %w", tenant, msg.Data, err)
		}
		replies = append(replies, rep)
		switch {
		case rep.QR != "" && rep.State == vocab.StatePairing:
			return rep.QR, nil
		case rep.Code != ctl.CodeTimeout && rep.Code != ctl.CodeUnavailable:
			return "", fmt.Errorf("pair %s: replies %+v, want a qr code while pairing", tenant, replies)
		}
	}
}

// waitPaired waits until tenant is connected with a device and returns it.
func waitPaired(ctx context.Context, s *testenv.Stack, tenant string) (types.JID, error) {
	var st, jid string
	var err error
	if perr := harness.Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		err = s.Pool.QueryRow(ctx, `SELECT state, coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1`, tenant).Scan(&st, &jid)
		return err == nil && st == vocab.StateConnected && jid != "", nil
	}); perr != nil {
		return types.EmptyJID, fmt.Errorf("%s not connected with a device (state %q, device %q): %w", tenant, st, jid, errors.Join(err, perr))
	}
	return types.ParseJID(jid)
}

// ask sends a control or simulator request and decodes the reply, failing
// the test when no reply comes within 10s.
func ask(t testing.TB, nc *nats.Conn, subject string, body any) ctl.Reply {
	t.Helper()
	return workertest.Request(t, nc, subject, body)
}

// waitEmu waits on the emulator with emuWait as the deadline.
func waitEmu(t testing.TB, what string, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sessionEvents returns the session events of tenant on the bus, in order.
func sessionEvents(t testing.TB, s *testenv.Stack, tenant string) []event.Session {
	t.Helper()
	return testenv.Events[event.Session](t, s, tenant, vocab.EventSession)
}

// messageEvents returns the message events of tenant on the bus, by
// message id.
func messageEvents(t testing.TB, s *testenv.Stack, tenant string) map[string][]event.Message {
	t.Helper()
	return testenv.EventsBy(t, s, tenant, vocab.EventMessage, func(d event.Message) string { return d.MessageID })
}

func hasState(evs []event.Session, state string) bool {
	for _, e := range evs {
		if e.State == state {
			return true
		}
	}
	return false
}

// statesSeen lists the states of tenant's session events, in order.
func statesSeen(t testing.TB, s *testenv.Stack, tenant string) []string {
	t.Helper()
	var out []string
	for _, e := range sessionEvents(t, s, tenant) {
		out = append(out, e.State)
	}
	return out
}

func count(states []string, want string) int {
	n := 0
	for _, s := range states {
		if s == want {
			n++
		}
	}
	return n
}

// metricValue sums the counters and gauges named name in reg whose labels
// include labels (name, value pairs).
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m.GetLabel(), labels[i], labels[i+1]) {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func hasLabel[L interface {
	GetName() string
	GetValue() string
}](ls []L, name, value string) bool {
	for _, l := range ls {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// counters renders the worker's non-zero counters, to explain a failure.
func counters(reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil && c.GetValue() != 0 {
				b.WriteString(mf.GetName())
				for _, l := range m.GetLabel() {
					fmt.Fprintf(&b, ",%s=%s", l.GetName(), l.GetValue())
				}
				fmt.Fprintf(&b, "=%v ", c.GetValue())
			}
		}
	}
	return b.String()
}

// inboundHook is a driver whose connections offer each inbound message to
// before first, as the session is about to store it: before returns false
// for a message the session is not to see (its handler answers that it was
// not stored, so the driver does not acknowledge it).
type inboundHook struct {
	wa.Driver
	before func(tenant string) bool
}

// Open opens the wrapped driver's connection with a handler that asks
// before about each message.
func (d inboundHook) Open(tenant string, dev wa.Device, h wa.Handler) (wa.Conn, error) {
	return d.Driver.Open(tenant, dev, handlerFunc(func(ev wa.Event) bool {
		if _, ok := ev.(wa.Message); ok && !d.before(tenant) {
			return false
		}
		return h.Handle(ev)
	}))
}

type handlerFunc func(wa.Event) bool

func (f handlerFunc) Handle(ev wa.Event) bool { return f(ev) }

// startEmuWorkerHooked is startEmuWorker with each inbound message offered
// to before first (see inboundHook).
func startEmuWorkerHooked(t testing.TB, s *testenv.Stack, emu *waemu.Server, id string, cfg session.Config, before func(tenant string) bool) *emuWorker {
	t.Helper()
	driver := wmdriver.New(wmdriver.Config{HTTPClient: emu.HTTPClient()}, workertest.Logger())
	return startWorkerOn(t, s, id, cfg, inboundHook{Driver: driver, before: before}, nil)
}
