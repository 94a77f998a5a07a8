package send

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/ingest"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
)

// Config configures the pipeline.
type Config struct {
	// WorkerID names this worker (the lease owner). Required.
	WorkerID string
	// Rate is the default per-tenant limit in messages a minute; 0 means
	// no limit. Defaults to 0 here; the worker passes WA_SEND_RATE.
	Rate float64
	// Burst is the default per-tenant burst. Defaults to 1.
	Burst int
	// MaxAttempts is how often a transient failure is retried before the
	// job fails with send_failed. Defaults to 5.
	MaxAttempts int
	// RetryDelay is the first delay after a transient failure; it doubles
	// per attempt. Defaults to 1s.
	RetryDelay time.Duration
	// FetchWait is how often the tenants served here are checked for
	// queued jobs whose bell was lost, and how often an idle tenant checks
	// that its session is still usable. Defaults to 5s.
	FetchWait time.Duration
	// Window is the most jobs a tenant claims at once (all of them are
	// sent right away: with a rate limit, only as many as it allows now).
	// Defaults to 16.
	Window int
	// LimitsEvery is how often a tenant's rate limit is read again, so that
	// a change (admin's PUT /v1/sessions/{tenant}) applies without a
	// reconnect. Defaults to 30s.
	LimitsEvery time.Duration
	// MaxAge is WA_SEND_MAX_AGE: a job still waiting this long after its
	// publish fails with code expired. Defaults to 24h.
	MaxAge time.Duration
	// Retention is WA_JOB_RETENTION: how long a finished job's row is kept
	// (a job id seen again within it is not sent again). Defaults to 7 days.
	Retention time.Duration
	// LeaseTTL is WA_LEASE_TTL, for the ingest partitions' leases. Defaults
	// to 15s.
	LeaseTTL time.Duration
}

func (c Config) withDefaults() Config {
	c.Burst = max(c.Burst, 1)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 5)
	c.RetryDelay = cmp.Or(c.RetryDelay, time.Second)
	c.FetchWait = cmp.Or(c.FetchWait, 5*time.Second)
	c.Window = cmp.Or(c.Window, 16)
	c.LimitsEvery = cmp.Or(c.LimitsEvery, 30*time.Second)
	c.MaxAge = cmp.Or(c.MaxAge, 24*time.Hour)
	c.Retention = cmp.Or(c.Retention, 7*24*time.Hour)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, 15*time.Second)
	return c
}

// Pipeline sends the jobs of the tenants connected on this worker. A tenant's
// loop starts when its session connects (Connected) and stops when the
// session stops being usable (Disconnected).
type Pipeline struct {
	cfg     Config
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	names   bus.Names
	log     *slog.Logger
	metrics *metrics
	store   *queue.Store
	ingest  *ingest.Ingester
	janitor *queue.Janitor
	numbers *numberCache

	runCtx context.Context
	ready  chan struct{}

	mu    sync.Mutex
	loops map[string]*loop
	wg    sync.WaitGroup
}

// New returns a pipeline that records outcomes through w. It returns an
// error when cfg has no worker id or the metrics cannot be registered.
func New(cfg Config, pool *pgxpool.Pool, w *outbox.Writer, js jetstream.JetStream, names bus.Names, logger *slog.Logger, reg prometheus.Registerer) (*Pipeline, error) {
	if cfg.WorkerID == "" {
		return nil, errors.New("send: config has no worker id")
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{
		cfg: cfg, pool: pool, js: js, names: names, metrics: m,
		log:     logger.With(slog.String("component", "send")),
		numbers: newNumberCache(24 * time.Hour),
		ready:   make(chan struct{}),
		loops:   map[string]*loop{},
	}
	var qw queue.Writer
	if w != nil {
		qw = w
	}
	p.store = queue.New(pool, qw, names)
	hooks := ingest.Hooks{
		Failed: func(code string) {
			m.jobs.WithLabelValues(queue.StatusFailed, code).Inc()
			m.dlq.Inc()
		},
		Replayed: m.replays.Inc,
	}
	p.ingest, err = ingest.New(ingest.Config{WorkerID: cfg.WorkerID, LeaseTTL: cfg.LeaseTTL, MaxAge: cfg.MaxAge, Hooks: hooks},
		pool, qw, js, names, logger, reg)
	if err != nil {
		return nil, err
	}
	p.janitor = queue.NewJanitor(queue.JanitorConfig{Retention: cfg.Retention}, p.store, p.log, func(n int) {
		p.metrics.jobs.WithLabelValues(queue.StatusFailed, event.CodeExpired).Add(float64(n))
		p.metrics.dlq.Add(float64(n))
	})
	return p, nil
}

// Run serves tenants, reads this worker's share of the send stream into
// the job table and keeps the table tidy until ctx ends and every tenant
// loop has stopped. Start it before the session manager so that Connected
// finds it running, and keep the outbox writer running until it returns.
// It returns an error when it cannot subscribe to the bell.
func (p *Pipeline) Run(ctx context.Context) error {
	p.runCtx = ctx
	sub, err := p.js.Conn().Subscribe(p.names.Bell(), p.ring)
	if err != nil {
		close(p.ready)
		return err
	}
	sub.SetPendingLimits(-1, -1)
	var bg sync.WaitGroup
	bg.Go(func() { _ = p.ingest.Run(ctx) })
	bg.Go(func() { _ = p.janitor.Run(ctx) })
	bg.Go(func() { p.sweep(ctx) })
	close(p.ready)
	<-ctx.Done()
	p.stopAll()
	p.wg.Wait()
	_ = sub.Unsubscribe()
	bg.Wait()
	return nil
}

// ring wakes the loops of the tenants a bell names.
func (p *Pipeline) ring(m *nats.Msg) {
	var b bus.BellMessage
	if err := json.Unmarshal(m.Data, &b); err != nil {
		return
	}
	p.wake(b.Tenants)
}

func (p *Pipeline) wake(tenants []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, tenant := range tenants {
		if l := p.loops[tenant]; l != nil {
			l.wake()
		}
	}
}

// sweep wakes, every FetchWait and at once after a NATS reconnect, the
// loops whose tenants have jobs waiting: it makes up for bells that were
// lost (published while this worker was disconnected, say).
func (p *Pipeline) sweep(ctx context.Context) {
	t := time.NewTicker(p.cfg.FetchWait)
	defer t.Stop()
	conn := p.js.Conn()
	seen := conn.Stats().Reconnects
	check := time.NewTicker(250 * time.Millisecond)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			if n := conn.Stats().Reconnects; n == seen || !conn.IsConnected() {
				continue
			} else {
				seen = n
			}
		case <-t.C:
		}
		if err := p.wakeWaiting(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "check for waiting jobs failed", slog.String("error", err.Error()))
		}
	}
}

func (p *Pipeline) wakeWaiting(ctx context.Context) error {
	p.mu.Lock()
	tenants := make([]string, 0, len(p.loops))
	for t := range p.loops {
		tenants = append(tenants, t)
	}
	p.mu.Unlock()
	if len(tenants) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waiting, err := p.store.Waiting(ctx, tenants)
	if err != nil {
		return err
	}
	p.wake(waiting)
	return nil
}

// Connected starts the loop of tenant, whose session s has logged in.
func (p *Pipeline) Connected(tenant string, s Session) {
	<-p.ready
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runCtx.Err() != nil {
		return
	}
	old := p.loops[tenant]
	if old != nil {
		if old.sess == s && !old.stopped() {
			return
		}
		old.cancel()
	}
	l := newLoop(p, tenant, s)
	p.loops[tenant] = l
	p.wg.Go(func() {
		if old != nil {
			<-old.done // its jobs are settled or handed back before we claim
		}
		l.run()
	})
}

// Disconnected stops the loop of tenant, whose session stopped being usable,
// and waits for the job in flight to be settled.
func (p *Pipeline) Disconnected(tenant string) {
	p.mu.Lock()
	l := p.loops[tenant]
	delete(p.loops, tenant)
	p.mu.Unlock()
	if l != nil {
		l.cancel()
		<-l.done
	}
}

func (p *Pipeline) stopAll() {
	p.mu.Lock()
	loops := p.loops
	p.loops = map[string]*loop{}
	p.mu.Unlock()
	for _, l := range loops {
		l.cancel()
	}
}
