package waemu_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

const eventWait = 20 * time.Second

// newContainer returns a whatsmeow device store in a fresh Postgres
// database.
func newContainer(t testing.TB) *sqlstore.Container {
	t.Helper()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	db := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { db.Close() })
	container := sqlstore.NewWithDB(db, "pgx", newLogger(t, "store"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := container.Upgrade(ctx); err != nil {
		t.Fatalf("upgrade whatsmeow store: %v", err)
	}
	return container
}

// client is a whatsmeow client wired to the emulator, with its events
// queued for the test.
type client struct {
	*whatsmeow.Client
	events chan any
}

// newClient creates a client for dev pointed at srv; it is disconnected
// when the test ends.
func newClient(t testing.TB, srv *waemu.Server, dev *store.Device) *client {
	t.Helper()
	cli := whatsmeow.NewClient(dev, newLogger(t, "client"))
	srv.Configure(cli)
	c := &client{Client: cli, events: make(chan any, 4096)}
	cli.AddEventHandler(func(evt any) {
		select {
		case c.events <- evt:
		default:
			t.Errorf("event queue full, dropped %T", evt)
		}
	})
	t.Cleanup(c.disconnect)
	return c
}

// disconnect is Disconnect once a socket the server is closing has gone.
// whatsmeow's FrameSocket.Close, run when its read pump ends, reads
// OnDisconnect while NoiseSocket.Stop (from Disconnect) writes it without
// a lock: calling Disconnect while the server's close is being handled
// trips the race detector. The pause lets that handling finish.
func (c *client) disconnect() {
	for range 10 {
		if !c.IsConnected() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	c.Disconnect()
}

// waitEvent returns the next event of type T, skipping others, or fails
// the test after eventWait.
func waitEvent[T any](t testing.TB, c *client) T {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case evt := <-c.events:
			if v, ok := evt.(T); ok {
				return v
			}
		case <-deadline:
			var zero T
			t.Fatalf("no %T event within %s", zero, eventWait)
			return zero
		}
	}
}

// pairClient pairs a new device from container by QR code and waits until
// it is logged in. setup runs before the client connects.
func pairClient(t testing.TB, srv *waemu.Server, container *sqlstore.Container, setup ...func(*client)) *client {
	t.Helper()
	return pairClientAs(t, srv, container, "", setup...)
}

// pairClientAs is pairClient to the account of phone ("": a new one).
func pairClientAs(t testing.TB, srv *waemu.Server, container *sqlstore.Container, phone string, setup ...func(*client)) *client {
	t.Helper()
	c := newClient(t, srv, container.NewDevice())
	for _, fn := range setup {
		fn(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	qr, err := c.GetQRChannel(ctx)
	if err != nil {
		t.Fatalf("get QR channel: %v", err)
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	var item whatsmeow.QRChannelItem
	select {
	case item = <-qr:
	case <-ctx.Done():
		t.Fatalf("no QR code within %s", eventWait)
	}
	if item.Event != whatsmeow.QRChannelEventCode {
		t.Fatalf("first QR channel item = %+v, want a code", item)
	}
	scan := srv.ScanQR
	if phone != "" {
		scan = func(code string) error { _, err := srv.ScanQRAs(code, phone); return err }
	}
	if err := scan(item.Code); err != nil {
		t.Fatalf("scan QR: %v", err)
	}
	waitEvent[*events.PairSuccess](t, c)
	waitEvent[*events.Connected](t, c)
	return c
}

// ownJID is the client's device JID.
func (c *client) ownJID(t testing.TB) types.JID {
	t.Helper()
	if c.Store.ID == nil {
		t.Fatal("client is not paired")
	}
	return *c.Store.ID
}

// newLogger is a whatsmeow logger writing to t.Logf when WAEMU_DEBUG is
// set, and silent after the test ends.
func newLogger(t testing.TB, module string) waLog.Logger {
	if os.Getenv("WAEMU_DEBUG") == "" {
		return waLog.Noop
	}
	l := &testLogger{t: t, module: module, state: &logState{}}
	t.Cleanup(func() {
		l.state.mu.Lock()
		l.state.done = true
		l.state.mu.Unlock()
	})
	return l
}

type logState struct {
	mu   sync.Mutex
	done bool
}

type testLogger struct {
	t      testing.TB
	module string
	state  *logState
}

func (l *testLogger) logf(level, msg string, args ...any) {
	l.state.mu.Lock()
	defer l.state.mu.Unlock()
	if !l.state.done {
		l.t.Logf("%s [%s] %s", level, l.module, fmt.Sprintf(msg, args...))
	}
}

func (l *testLogger) Warnf(msg string, args ...any)  { l.logf("WARN", msg, args...) }
func (l *testLogger) Errorf(msg string, args ...any) { l.logf("ERROR", msg, args...) }
func (l *testLogger) Infof(msg string, args ...any)  { l.logf("INFO", msg, args...) }
func (l *testLogger) Debugf(msg string, args ...any) { l.logf("DEBUG", msg, args...) }
func (l *testLogger) Sub(module string) waLog.Logger {
	return &testLogger{t: l.t, module: l.module + "/" + module, state: l.state}
}
