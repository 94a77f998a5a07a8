package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// The conformance tests run the session manager on the real whatsmeow
// driver against waemu, the protocol-level WhatsApp emulator, and check
// that what the simulator promises holds with the real client. The helpers
// here are exported (in a _test.go file, so only to tests) for the
// conformance tests of package session_test, which may import packages
// that import session, such as the send pipeline.

// emuWait bounds each wait on the emulator or the manager; generous, as
// -race on a small machine makes whatsmeow's crypto slow.
const emuWait = 30 * time.Second

// NewEmuStack returns a migrated stack and an emulator started after it, so
// that the emulator closes after the test's workers and before the stack.
func NewEmuStack(t testing.TB, cfg waemu.Config) (*testenv.Stack, *waemu.Server) {
	t.Helper()
	s := testenv.NewStack(t)
	migrate(t, s)
	return s, waemu.StartConfig(t, cfg)
}

// WorkerPart builds a component that runs beside a test worker's manager,
// wired as internal/worker wires the send pipeline: it listens to the
// manager's sessions, runs from before the manager starts until after it
// stopped, and writes through the worker's outbox writer.
type WorkerPart func(workerID string, w *outbox.Writer, reg prometheus.Registerer, log *slog.Logger) (Listener, func(context.Context) error)

// EmuWorker is a worker in the test process on the real whatsmeow driver.
type EmuWorker struct {
	M    *Manager
	Reg  *prometheus.Registry
	stop func()
}

// Stop stops the manager (sessions disconnect, leases are released), then
// the parts, then the outbox relay once it has published everything. It is
// idempotent and also runs when the test ends.
func (w *EmuWorker) Stop() { w.stop() }

// StartEmuWorker starts a worker with a new whatsmeow driver routed to emu
// and a new device store container on the stack's database, and waits until
// it has registered. Unset reconnect delays are short, the lease 3s.
func StartEmuWorker(t testing.TB, s *testenv.Stack, emu *waemu.Server, id string, cfg Config, parts ...WorkerPart) *EmuWorker {
	t.Helper()
	return startEmuWorker(t, s, emu, id, cfg, nil, parts...)
}

// startEmuWorker is StartEmuWorker with setup, which runs on the manager
// before it starts (to set test hooks without a data race).
func startEmuWorker(t testing.TB, s *testenv.Stack, emu *waemu.Server, id string, cfg Config, setup func(*Manager), parts ...WorkerPart) *EmuWorker {
	t.Helper()
	log := testLogger().With("worker", id, "test", t.Name())
	driver := wmdriver.New(wmdriver.Config{HTTPClient: emu.HTTPClient()}, log)
	return runTestWorker(t, s, id, cfg, driver, log, setup, parts...)
}

// PairedAcme is where most conformance tests start: tenant acme paired by
// QR on worker w1, connected to a fresh emulator. parts, given the stack,
// make the worker's parts (the send pipeline, say).
func PairedAcme(t *testing.T, parts ...func(*testenv.Stack) WorkerPart) (*testenv.Stack, *waemu.Server, *nats.Conn, *EmuWorker, types.JID) {
	t.Helper()
	s, emu := NewEmuStack(t, waemu.Config{})
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	var ps []WorkerPart
	for _, p := range parts {
		ps = append(ps, p(s))
	}
	w := StartEmuWorker(t, s, emu, "w1", Config{}, ps...)
	return s, emu, nc, w, PairEmu(t, s, nc, emu, "acme")
}

// PairEmu pairs tenant as an admin and a phone would: a pair control
// request, its QR code scanned on the emulator, then it waits until the
// tenant is connected, and returns the device JID recorded for it.
func PairEmu(t testing.TB, s *testenv.Stack, nc *nats.Conn, emu *waemu.Server, tenant string) types.JID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	dev, err := pairEmu(ctx, s, nc, emu, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// pairEmu is PairEmu without a testing.TB, for pairing from several
// goroutines.
func pairEmu(ctx context.Context, s *testenv.Stack, nc *nats.Conn, emu *waemu.Server, tenant string) (types.JID, error) {
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
		case rep.QR != "" && rep.State == StatePairing:
			return rep.QR, nil
		case rep.Code != ctl.CodeTimeout && rep.Code != ctl.CodeUnavailable:
			return "", fmt.Errorf("pair %s: replies %+v, want a qr code while pairing", tenant, replies)
		}
	}
}

// waitPaired waits until tenant is connected with a device and returns it.
func waitPaired(ctx context.Context, s *testenv.Stack, tenant string) (types.JID, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var st, jid string
	for {
		err := s.Pool.QueryRow(ctx, `SELECT state, coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1`, tenant).Scan(&st, &jid)
		if err == nil && st == StateConnected && jid != "" {
			return types.ParseJID(jid)
		}
		select {
		case <-ctx.Done():
			return types.EmptyJID, fmt.Errorf("%s not connected with a device (state %q, device %q): %w", tenant, st, jid, errors.Join(err, ctx.Err()))
		case <-tick.C:
		}
	}
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
