package harness

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/db"
)

// StackConfig configures a Stack.
type StackConfig struct {
	// WorkerBinary is cmd/worker's binary. Required.
	WorkerBinary string
	// NATSURL is the nats-server. Required.
	NATSURL string
	// WorkerNATSURL is the workers' WA_NATS_URL (a cluster's servers, say,
	// while the harness's own connections keep to one). Defaults to
	// NATSURL.
	WorkerNATSURL string
	// DatabaseURL is the stack's own (fresh) database. Required.
	DatabaseURL string
	// LogDir receives the workers' logs. Required.
	LogDir string
	// Prefix is WA_SUBJECT_PREFIX. Defaults to a random one.
	Prefix string
	// Workers is how many workers start. Defaults to 1.
	Workers int
	// LeaseTTL is the workers' WA_LEASE_TTL. Defaults to 5s.
	LeaseTTL time.Duration
	// LogLevel is the workers' WA_LOG_LEVEL. Defaults to "info".
	LogLevel string
	// Replicas is WA_STREAM_REPLICAS, for the stack's provisioning and the
	// workers'. Defaults to 1.
	Replicas int
}

// Stack is one deployment under test: worker processes sharing a database
// and a prefix, with the observers and clients around them. Build it with
// NewStack; Close it when done.
type Stack struct {
	cfg      StackConfig
	Names    bus.Names
	Pool     *pgxpool.Pool
	NC       *nats.Conn
	JS       jetstream.JetStream
	Client   *Client
	Observer *Observer
	Events   *Events

	mu      sync.Mutex
	workers []*Worker
}

// NewStack provisions the streams, starts the observers and the workers
// and waits until every worker has registered. It returns an error when a
// service is unreachable or a worker does not start; what was started is
// stopped again.
func NewStack(ctx context.Context, cfg StackConfig) (_ *Stack, err error) {
	if cfg.WorkerBinary == "" || cfg.NATSURL == "" || cfg.DatabaseURL == "" || cfg.LogDir == "" {
		return nil, errors.New("harness: stack config needs WorkerBinary, NATSURL, DatabaseURL and LogDir")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = RandomPrefix()
	}
	s := &Stack{cfg: cfg, Names: bus.NewNames(cfg.Prefix)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	if s.Observer, err = Observe(cfg.NATSURL, s.Names); err != nil {
		return nil, err
	}
	for i := range max(cfg.Workers, 1) {
		if _, err := s.AddWorker("w" + strconv.Itoa(i+1)); err != nil {
			return nil, err
		}
	}
	if err := s.WaitReady(ctx); err != nil {
		return nil, err
	}
	if s.Events, err = CollectEvents(ctx, s.JS, s.Names); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stack) connect(ctx context.Context) error {
	var err error
	if s.Pool, err = db.Open(ctx, s.cfg.DatabaseURL); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	if s.NC, err = Connect(s.cfg.NATSURL, "wabus-harness"); err != nil {
		return err
	}
	if s.JS, err = jetstream.New(s.NC); err != nil {
		return fmt.Errorf("harness: jetstream: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := bus.Provision(pctx, s.JS, s.Names, bus.Config{Replicas: s.cfg.Replicas}); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	s.Client = &Client{Pool: s.Pool, NC: s.NC, Names: s.Names}
	return nil
}

// AddWorker starts one more worker with id. It returns an error when it
// cannot start (it does not wait for it: see WaitReady).
func (s *Stack) AddWorker(id string) (*Worker, error) {
	w, err := NewWorker(WorkerConfig{
		Binary: s.cfg.WorkerBinary, ID: id, Prefix: s.cfg.Prefix,
		DatabaseURL: s.cfg.DatabaseURL, NATSURL: cmp.Or(s.cfg.WorkerNATSURL, s.cfg.NATSURL), LogDir: s.cfg.LogDir,
		LeaseTTL: s.cfg.LeaseTTL, LogLevel: s.cfg.LogLevel,
		Env: []string{"WA_STREAM_REPLICAS=" + strconv.Itoa(max(s.cfg.Replicas, 1))},
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
	return w, w.Start()
}

// Workers returns the stack's workers.
func (s *Stack) Workers() []*Worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Worker(nil), s.workers...)
}

// Worker returns the worker with id, or nil.
func (s *Stack) Worker(id string) *Worker {
	for _, w := range s.Workers() {
		if w.ID() == id {
			return w
		}
	}
	return nil
}

// WaitReady waits until every running worker has registered. It returns
// an error when one exits first or ctx ends.
func (s *Stack) WaitReady(ctx context.Context) error {
	for _, w := range s.Workers() {
		if !w.Running() {
			continue
		}
		if err := w.WaitReady(ctx, s.Pool); err != nil {
			return err
		}
	}
	return nil
}

// Verify runs the verifier (see Verify).
func (s *Stack) Verify(ctx context.Context, exp Expect) (Report, error) {
	return Verify(ctx, s.Client, s.Observer, s.Events, exp)
}

// WaitSettled waits until the stack has settled (see WaitSettled).
func (s *Stack) WaitSettled(ctx context.Context, exp Expect) error {
	return WaitSettled(ctx, s.Client, s.Observer, s.Events, exp)
}

// Close stops the workers (SIGKILL: a stack is thrown away) and the
// observers, and closes the connections.
func (s *Stack) Close() {
	for _, w := range s.Workers() {
		w.Close()
	}
	if s.Events != nil {
		s.Events.Close()
	}
	if s.Observer != nil {
		s.Observer.Close()
	}
	if s.NC != nil {
		s.NC.Close()
	}
	if s.Pool != nil {
		s.Pool.Close()
	}
}

// RandomPrefix returns a subject prefix unlikely to be used by anyone else.
func RandomPrefix() string { return "h" + RandomHex(5) }

// RandomHex returns 2n random hex digits.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Busiest returns the running worker holding the most live connections,
// and those tenants.
func (s *Stack) Busiest() (*Worker, []string) {
	var best *Worker
	var tenants []string
	for _, w := range s.Workers() {
		if !w.Running() {
			continue
		}
		if t := s.Observer.LiveTenants(w.ID()); best == nil || len(t) > len(tenants) {
			best, tenants = w, t
		}
	}
	return best, tenants
}

// WaitBalanced waits until tenants have settled (connected, one live
// connection each) and no running worker holds more than its fair share
// of leases, so that a fault hits a steady deployment. It returns an error
// when ctx ends first.
func (s *Stack) WaitBalanced(ctx context.Context, tenants []string) error {
	if err := s.WaitSettled(ctx, Expect{Tenants: tenants}); err != nil {
		return err
	}
	return Poll(ctx, PollInterval(len(tenants)), func() (bool, error) {
		running := 0
		for _, w := range s.Workers() {
			if w.Running() {
				running++
			}
		}
		share := (len(tenants) + running - 1) / max(running, 1)
		counts, err := s.Client.LeaseCounts(ctx)
		if err != nil {
			return false, nil
		}
		for _, n := range counts {
			if n > share {
				return false, nil
			}
		}
		w, err := Settled(ctx, s.Client, s.Observer, s.Events, Expect{Tenants: tenants})
		return err == nil && len(w) == 0, nil
	})
}
