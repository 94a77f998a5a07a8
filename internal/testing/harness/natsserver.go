package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSVersion is the nats-server release the harness runs (as testenv).
const NATSVersion = "v2.15.3"

// NATSServer is a private nats-server process with JetStream, on a free
// port with its store in a directory of its own.
type NATSServer struct {
	bin  string
	port int
	dir  string
	name string   // the server name (-n), "" outside a cluster
	args []string // more flags, such as a cluster's

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartNATS starts a nats-server storing under dir. The binary is
// WABUS_NATS_SERVER, or nats-server in GOBIN or GOPATH/bin, and must be
// NATSVersion. It returns an error when the binary is missing or of another
// version, or the server does not become ready within 15s.
func StartNATS(dir string) (*NATSServer, error) {
	bin, err := NATSBinary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	s := &NATSServer{bin: bin, port: port, dir: dir}
	return s, s.Start()
}

// NATSBinary finds the pinned nats-server binary (see StartNATS). It
// returns an error saying how to install it when it is missing.
func NATSBinary() (string, error) {
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
		return "", fmt.Errorf("harness: nats-server %s not found at %s (run `make tools` or `go install github.com/nats-io/nats-server/v2@%s`, or set WABUS_NATS_SERVER): %w", NATSVersion, bin, NATSVersion, err)
	}
	if !bytes.Contains(out, []byte(NATSVersion)) {
		return "", fmt.Errorf("harness: %s is %q, want nats-server %s", bin, bytes.TrimSpace(out), NATSVersion)
	}
	return bin, nil
}

// URL is the server's client URL.
func (s *NATSServer) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// PID returns the server's process id, or 0 while it is stopped.
func (s *NATSServer) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Start starts the server (again, after Stop) on the same port and store
// and waits until JetStream answers. It returns an error when the process
// cannot start or is not ready within 15s.
func (s *NATSServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	args := append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-js", "-sd", s.dir,
		"-l", filepath.Join(s.dir, "server.log")}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start nats-server: %w", err)
	}
	s.cmd = cmd
	if len(s.args) > 0 {
		return nil // a cluster node: JetStream answers once a quorum is up
	}
	if err := waitJetStream(s.URL(), 15*time.Second); err != nil {
		return fmt.Errorf("nats-server not ready: %w", err)
	}
	return nil
}

// Stop kills the server (SIGKILL, as abrupt as a crash) and waits for it.
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

// Term stops the server gracefully (SIGTERM, as an operator's restart
// does) and waits up to within for it to exit; past that it kills it. It
// returns an error when it had to be killed.
func (s *NATSServer) Term(within time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-time.After(within):
		_ = s.cmd.Process.Kill()
		<-done
		err = fmt.Errorf("nats-server %s did not exit within %s of SIGTERM; killed", s.name, within)
	}
	s.cmd = nil
	return err
}

// Freeze stops the process (SIGSTOP): it holds its sockets and answers
// nothing, as a node cut off from the network does. Thaw resumes it.
func (s *NATSServer) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *NATSServer) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *NATSServer) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("nats-server %s is not running", s.name)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to nats-server %s: %w", sig, s.name, err)
	}
	return nil
}

// Name returns the server name, "" outside a cluster.
func (s *NATSServer) Name() string { return s.name }

// Restart is Stop then Start; it returns Start's error.
func (s *NATSServer) Restart() error {
	s.Stop()
	return s.Start()
}

// Connect opens a client connection that reconnects for ever (quickly, so
// that an observer is back before the workers after a restart). It returns
// an error when the URL is unusable.
func (s *NATSServer) Connect(name string) (*nats.Conn, error) {
	return Connect(s.URL(), name)
}

// Connect opens a client connection to url that reconnects for ever. It
// returns an error when the first connection fails.
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0),
		nats.ReconnectBufSize(64<<20), nats.Timeout(2*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", url, err)
	}
	return nc, nil
}

func waitJetStream(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := errors.New("no attempt")
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
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("after %s: %w", within, last)
}
