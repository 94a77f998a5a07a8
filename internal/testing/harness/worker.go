package harness

import (
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

	"github.com/jackc/pgx/v5/pgxpool"
)

// WorkerConfig configures a worker process.
type WorkerConfig struct {
	// Binary is cmd/worker's binary (Binaries.Worker). Required.
	Binary string
	// ID is WA_WORKER_ID. Required.
	ID string
	// Prefix is WA_SUBJECT_PREFIX. Required.
	Prefix string
	// DatabaseURL is WA_DATABASE_URL. Required.
	DatabaseURL string
	// NATSURL is WA_NATS_URL. Required.
	NATSURL string
	// LogDir receives the log file <ID>.log (appended to across restarts).
	// Required.
	LogDir string
	// LeaseTTL is WA_LEASE_TTL. Defaults to 5s.
	LeaseTTL time.Duration
	// LogLevel is WA_LOG_LEVEL. Defaults to "info".
	LogLevel string
	// Env holds extra KEY=VALUE variables, which override the above.
	Env []string
}

func (c WorkerConfig) validate() error {
	if c.Binary == "" || c.ID == "" || c.Prefix == "" || c.DatabaseURL == "" || c.NATSURL == "" || c.LogDir == "" {
		return errors.New("harness: worker config needs Binary, ID, Prefix, DatabaseURL, NATSURL and LogDir")
	}
	return nil
}

// Worker is a cmd/worker process in simulator mode (WA_DRIVER=sim, no send
// rate limit, text logs to a file). It can be started again after it
// exited or was killed. Build it with NewWorker; Close it when done.
type Worker struct {
	cfg   WorkerConfig
	meter *Meter

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd exited
	metrics string
	wg      sync.WaitGroup
}

// NewWorker returns a worker that is not started yet. It returns an error
// when cfg is incomplete.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.LeaseTTL = max(cfg.LeaseTTL, 0)
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 5 * time.Second
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "info"
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfg.LogDir, err)
	}
	w := &Worker{cfg: cfg}
	w.meter = NewMeter(func() (ProcSample, error) { return ReadProc(w.PID()) }, 0)
	return w, nil
}

// ID returns the worker id.
func (w *Worker) ID() string { return w.cfg.ID }

// LogPath returns the worker's log file.
func (w *Worker) LogPath() string { return filepath.Join(w.cfg.LogDir, w.cfg.ID+".log") }

// MetricsAddr returns the address of the current process's /metrics.
func (w *Worker) MetricsAddr() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.metrics
}

// Start starts the process unless it runs. It returns an error when the log
// file cannot be opened or the process cannot start.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running() {
		return nil
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(w.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open worker log: %w", err)
	}
	fmt.Fprintf(log, "=== harness: start %s at %s\n", w.cfg.ID, time.Now().Format(time.RFC3339Nano))
	w.metrics = "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(w.cfg.Binary)
	cmd.Env = w.env()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start worker %s: %w", w.cfg.ID, err)
	}
	done := make(chan struct{})
	w.cmd, w.done = cmd, done
	w.wg.Go(func() {
		_ = cmd.Wait()
		log.Close()
		close(done)
	})
	return nil
}

func (w *Worker) env() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"WA_DRIVER=sim",
		"WA_WORKER_ID=" + w.cfg.ID,
		"WA_SUBJECT_PREFIX=" + w.cfg.Prefix,
		"WA_DATABASE_URL=" + w.cfg.DatabaseURL,
		"WA_NATS_URL=" + w.cfg.NATSURL,
		"WA_METRICS_ADDR=" + w.metrics,
		"WA_LEASE_TTL=" + w.cfg.LeaseTTL.String(),
		"WA_SEND_RATE=0",
		"WA_LOG_FORMAT=text",
		"WA_LOG_LEVEL=" + w.cfg.LogLevel,
	}
	return append(env, w.cfg.Env...)
}

// running reports whether the current process has not exited; w.mu is held.
func (w *Worker) running() bool {
	if w.cmd == nil {
		return false
	}
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// Running reports whether the process runs (a stopped process runs).
func (w *Worker) Running() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running()
}

// PID returns the current process's id, or 0 when none runs.
func (w *Worker) PID() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running() {
		return 0
	}
	return w.cmd.Process.Pid
}

// Exited returns a channel closed when the current process exits (a
// closed channel when none runs).
func (w *Worker) Exited() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return w.done
}

// signal sends sig to the running process. It returns an error when none
// runs.
func (w *Worker) signal(sig syscall.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running() {
		return fmt.Errorf("worker %s is not running", w.cfg.ID)
	}
	if err := w.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s to worker %s: %w", sig, w.cfg.ID, err)
	}
	return nil
}

// Kill sends SIGKILL (no cleanup at all) and waits for the process to end.
// It returns an error when no process runs.
func (w *Worker) Kill() error {
	if err := w.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-w.Exited()
	return nil
}

// Term sends SIGTERM and waits up to within for the process to exit; past
// that it kills it. It returns the exit code, and an error when no process
// runs or it had to be killed.
func (w *Worker) Term(within time.Duration) (int, error) {
	done := w.Exited()
	_ = w.signal(syscall.SIGCONT) // a stopped process cannot handle SIGTERM
	if err := w.signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	select {
	case <-done:
	case <-time.After(within):
		_ = w.Kill()
		return -1, fmt.Errorf("worker %s did not exit within %s of SIGTERM; killed", w.cfg.ID, within)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cmd.ProcessState.ExitCode(), nil
}

// Stop freezes the process (SIGSTOP). It returns an error when none runs.
func (w *Worker) Stop() error { return w.signal(syscall.SIGSTOP) }

// Cont thaws a frozen process (SIGCONT). It returns an error when none runs.
func (w *Worker) Cont() error { return w.signal(syscall.SIGCONT) }

// Usage returns the CPU time (summed over the worker's processes) and RSS.
func (w *Worker) Usage() Usage { return w.meter.Snapshot() }

// Meter returns the worker's meter.
func (w *Worker) Meter() *Meter { return w.meter }

const workerRegistered = `SELECT count(*) FROM wabus_worker WHERE id = $1 AND expires_at > now()`

// WaitReady waits until the worker has registered itself in wabus_worker
// (its lease keeper runs). It returns an error when the process exits
// first or ctx ends.
func (w *Worker) WaitReady(ctx context.Context, pool *pgxpool.Pool) error {
	exited := w.Exited()
	return Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("worker %s exited during start-up (see %s)", w.cfg.ID, w.LogPath())
		default:
		}
		var n int
		if err := pool.QueryRow(ctx, workerRegistered, w.cfg.ID).Scan(&n); err != nil {
			return false, nil // tables not migrated yet
		}
		return n == 1, nil
	})
}

// Close kills the process if it runs and stops sampling.
func (w *Worker) Close() {
	_ = w.signal(syscall.SIGCONT)
	_ = w.Kill()
	w.wg.Wait()
	w.meter.Close()
}
