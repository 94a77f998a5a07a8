package bus_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// TestAConnectionLeavesAFrozenServer connects to two servers and freezes
// the one it is on (SIGSTOP: its sockets stay open and nothing answers, as
// a node cut off from the network): the connection notices the missing
// pongs and moves to the other server, instead of waiting on the frozen one
// for as long as it is gone.
func TestAConnectionLeavesAFrozenServer(t *testing.T) {
	t.Parallel()
	a, b := testenv.NATS(t), testenv.NATS(t)
	nc, err := bus.Connect(a.URL()+","+b.URL(), "", "test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testenv.Eventually(t, 10*time.Second, "connected", nc.IsConnected)
	frozen := a
	if nc.ConnectedUrl() == b.URL() {
		frozen = b
	}
	if err := frozen.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frozen.Thaw() })
	testenv.Eventually(t, 30*time.Second, "connected to the other server", func() bool {
		return nc.IsConnected() && nc.ConnectedUrl() != frozen.URL()
	})
}
