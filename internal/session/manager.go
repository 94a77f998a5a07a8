package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/tenant"
)

// Config configures a Manager.
type Config struct {
	// WorkerID names this worker. Required.
	WorkerID string
	// LeaseTTL is how long a dead worker's tenants stay orphaned at most.
	// Defaults to 15s.
	LeaseTTL time.Duration
	// RestoreConcurrency bounds how many sessions connect at once.
	// Defaults to 64.
	RestoreConcurrency int
	// ReconnectMin is the first reconnect delay. Defaults to 1s.
	ReconnectMin time.Duration
	// ReconnectMax caps the reconnect delay. Defaults to 60s.
	ReconnectMax time.Duration
	// IdleTimeout is how long a tenant without a device is held waiting for
	// a pairing request before its lease is let go. Defaults to 10s.
	IdleTimeout time.Duration
	// InboundMediaMax is the largest inbound attachment stored, in bytes
	// (WA_INBOUND_MEDIA_MAX); a larger one is left out of its message
	// event, whose media_error says too_large. Defaults to 64 MiB.
	InboundMediaMax int64
	// Liveness says when a connection that looks open is dead and how
	// refusals by WhatsApp are retried; see its fields for the defaults.
	Liveness Liveness
}

// DefaultInboundMediaMax is Config.InboundMediaMax's default.
const DefaultInboundMediaMax = 64 << 20

func (c Config) withDefaults() Config {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 15 * time.Second
	}
	if c.RestoreConcurrency <= 0 {
		c.RestoreConcurrency = 64
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax <= 0 {
		c.ReconnectMax = 60 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Second
	}
	c.InboundMediaMax = cmp.Or(max(c.InboundMediaMax, 0), DefaultInboundMediaMax)
	c.Liveness = c.Liveness.withDefaults()
	return c
}

// Deps are the Manager's collaborators.
type Deps struct {
	Pool *pgxpool.Pool
	// Store is the driver's device store, where the tenants' devices are.
	Store    wa.DeviceStore
	Driver   wa.Driver
	NATS     *nats.Conn
	JS       jetstream.JetStream
	Names    bus.Names
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// Writer commits state changes and inbound events with their outbox
	// rows, batched with the rest of the worker's writes.
	Writer *outbox.Writer
}

// Listener is told when this worker starts and stops serving a tenant, so
// that the send pipeline can bind and release the tenant's consumer.
type Listener interface {
	// Connected is called each time tenant's session logs in.
	Connected(tenant string, s *Session)
	// Disconnected is called when tenant's session stops being usable.
	Disconnected(tenant string)
}

// Manager runs the sessions of the tenants this worker owns.
type Manager struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	metrics *metrics
	keeper  *lease.Keeper
	jobs    *queue.Store  // the tenants' jobs, failed when a tenant is logged out
	connect chan struct{} // semaphore bounding concurrent connects

	runCtx       context.Context    // sessions derive from it
	stopSessions context.CancelFunc // cancels runCtx

	mu        sync.Mutex
	sessions  map[string]*Session
	listeners []Listener
	wg        sync.WaitGroup // sessions

	// testHookInbound, when set, runs before an inbound message is stored.
	testHookInbound func(tenant string)

	mediaFailures failureCounts // failed attachment downloads, by message
}

// New builds a Manager. It returns an error when required dependencies are
// missing or metrics cannot be registered.
func New(cfg Config, deps Deps) (*Manager, error) {
	if cfg.WorkerID == "" || deps.Pool == nil || deps.Store == nil || deps.Driver == nil || deps.NATS == nil || deps.JS == nil || deps.Writer == nil {
		return nil, errors.New("session: worker id, pool, store, driver, nats, jetstream and writer are required")
	}
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg: cfg, deps: deps,
		log:      deps.Logger.With(slog.String("component", "session")),
		sessions: map[string]*Session{},
		connect:  make(chan struct{}, cfg.RestoreConcurrency),
		jobs:     queue.New(deps.Pool, deps.Writer, deps.Names),
	}
	// sessions outlive Run's ctx: Run stops them once their leases are
	// released, and a session acquired before Run starts has its context
	m.runCtx, m.stopSessions = context.WithCancel(context.Background())
	var err error
	if m.metrics, err = newMetrics(deps.Registry, m); err != nil {
		return nil, err
	}
	m.keeper, err = lease.New(lease.Config{WorkerID: cfg.WorkerID, TTL: cfg.LeaseTTL, Paired: tenant.PairedIDs}, deps.Pool, m, deps.Logger, deps.Registry)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// AddListener registers l; call it before Run.
func (m *Manager) AddListener(l Listener) { m.listeners = append(m.listeners, l) }

// Run runs the lease keeper, and through it the sessions, until ctx ends.
// Then every session is disconnected, its state written and its lease
// released (in parallel), and Run returns the keeper's error. Stop the
// control router first, so that no request acquires a tenant meanwhile.
func (m *Manager) Run(ctx context.Context) error {
	defer m.stopSessions()
	err := m.keeper.Run(ctx) // returns after releasing every lease
	m.stopSessions()
	m.wg.Wait()
	return err
}

// Start implements lease.Owner: it starts tenant's session under l.
// An old session of the tenant is stopped first, outside m.mu: a session
// ending by itself takes m.mu (ended) before it is done.
func (m *Manager) Start(l lease.Lease) {
	m.Stop(l.Tenant)
	m.mu.Lock()
	defer m.mu.Unlock()
	s := newSession(m, l)
	m.sessions[l.Tenant] = s
	m.wg.Go(func() { s.run(s.ctx) })
}

// Stop implements lease.Owner: it stops tenant's session and waits for it.
func (m *Manager) Stop(tenant string) {
	m.mu.Lock()
	s := m.sessions[tenant]
	delete(m.sessions, tenant)
	m.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// Movable implements lease.Owner: only a session in a settled state
// (connected, disconnected, banned) may move to another worker; one that is
// starting, pairing (its QR code is on someone's screen) or ending stays.
func (m *Manager) Movable(tenant string) bool {
	s := m.session(tenant)
	if s == nil {
		return true
	}
	switch s.State() {
	case StateConnected, StateDisconnected, StateBanned:
		return true
	}
	return false
}

// session returns the running session of tenant, or nil.
func (m *Manager) session(tenant string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[tenant]
}

// Session returns tenant's running session on this worker, or nil.
func (m *Manager) Session(tenant string) *Session { return m.session(tenant) }

// ended removes s once its run loop finished by itself (logged out,
// unpaired) and lets its lease go.
func (m *Manager) ended(s *Session) {
	m.mu.Lock()
	if m.sessions[s.tenant] == s {
		delete(m.sessions, s.tenant)
	}
	m.mu.Unlock()
	if err := m.keeper.Forget(context.WithoutCancel(s.ctx), s.lease); err != nil {
		m.log.Warn("lease release failed", slog.String("tenant", s.tenant), slog.String("error", err.Error()))
	}
}

// states counts sessions by state, for the metrics.
func (m *Manager) states() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for _, s := range m.sessions {
		out[s.State()]++
	}
	return out
}

// acquireSlot bounds concurrent connects; it returns a release func.
func (m *Manager) acquireSlot(ctx context.Context) (func(), error) {
	select {
	case m.connect <- struct{}{}:
		return func() { <-m.connect }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for connect slot: %w", ctx.Err())
	}
}
