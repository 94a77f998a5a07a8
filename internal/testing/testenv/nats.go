package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/testing/harness"
)

// NATSVersion is the nats-server release the tests run against.
const NATSVersion = harness.NATSVersion

// NATSServer is a private nats-server process with JetStream (the load
// tool's, failing the test instead of returning errors).
type NATSServer struct {
	*harness.NATSServer
	t testing.TB
}

// NATS starts a nats-server with JetStream on a free port with a temporary
// store, stopped when the test ends. The binary is WABUS_NATS_SERVER, or
// nats-server in GOBIN / GOPATH/bin; it must be NATSVersion (install it with
// `make tools`). The server dies with the test binary, even when that is
// killed.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	s, err := harness.StartNATS(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(s.Stop)
	return &NATSServer{NATSServer: s, t: t}
}

// Start starts the server again after Stop, on the same port and store,
// and waits until JetStream answers.
func (s *NATSServer) Start() {
	s.t.Helper()
	if err := s.NATSServer.Start(); err != nil {
		s.t.Fatalf("testenv: %v", err)
	}
}

// Restart is Stop (SIGKILL, as abrupt as a crash) then Start.
func (s *NATSServer) Restart() {
	s.t.Helper()
	if err := s.NATSServer.Restart(); err != nil {
		s.t.Fatalf("testenv: %v", err)
	}
}

// Conn connects a client to the server, closed when the test ends. It
// reconnects for ever, so it survives Restart.
func (s *NATSServer) Conn(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("testenv: connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on a new connection to the server.
func (s *NATSServer) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(s.Conn(t))
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return js
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := harness.FreePort()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return port
}

// NATSCluster starts a three-node JetStream cluster on loopback ports,
// stopped when the test ends. It fails the test when the cluster is not
// ready.
func NATSCluster(t testing.TB) *harness.NATSCluster {
	t.Helper()
	c, err := harness.StartNATSCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}
