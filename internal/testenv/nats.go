package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSVersion is the nats-server release the tests run against.
const NATSVersion = "v2.12.4"

// NATSServer is a private nats-server process with JetStream.
type NATSServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// NATS starts a nats-server with JetStream on a free port with a temporary
// store, stopped when the test ends. The binary is WABUS_NATS_SERVER, or
// nats-server in GOBIN / GOPATH/bin; it must be NATSVersion (install it with
// `go install github.com/nats-io/nats-server/v2@v2.12.4`).
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	s := &NATSServer{t: t, bin: natsBinary(t), port: FreePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

func natsBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("WABUS_NATS_SERVER")
	if bin == "" {
		dir := os.Getenv("GOBIN")
		if dir == "" {
			gopath := os.Getenv("GOPATH")
			if gopath == "" {
				home, _ := os.UserHomeDir()
				gopath = filepath.Join(home, "go")
			}
			dir = filepath.Join(gopath, "bin")
		}
		bin = filepath.Join(dir, "nats-server")
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("testenv: nats-server %s not found at %s (run `make tools` or `go install github.com/nats-io/nats-server/v2@%s`, or set WABUS_NATS_SERVER): %v", NATSVersion, bin, NATSVersion, err)
	}
	if !bytes.Contains(out, []byte(NATSVersion)) {
		t.Fatalf("testenv: %s is %q, want nats-server %s", bin, bytes.TrimSpace(out), NATSVersion)
	}
	return bin
}

// URL is the server's client URL.
func (s *NATSServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Start starts the server (again, after Stop) on the same port and store,
// and waits until it accepts clients with JetStream ready.
func (s *NATSServer) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir,
		"-l", filepath.Join(s.dir, "server.log"))
	// the server dies with the test binary, even when that is killed
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("testenv: start nats-server: %v", err)
	}
	s.cmd = cmd
	if err := waitJetStream(s.URL(), 15*time.Second); err != nil {
		s.t.Fatalf("testenv: nats-server did not become ready: %v", err)
	}
}

// Stop kills the server (SIGKILL: as abrupt as a crash) and waits for it.
func (s *NATSServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart is Stop then Start.
func (s *NATSServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
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

func waitJetStream(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		<-time.After(25 * time.Millisecond)
	}
	return fmt.Errorf("after %s: %w", within, last)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
