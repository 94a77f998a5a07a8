package send

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/session"
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
	// AckWait is how long a fetched job may stay unacknowledged before
	// JetStream redelivers it. Defaults to 60s.
	AckWait time.Duration
	// RetryDelay is the first redelivery delay after a transient failure;
	// it doubles per attempt. Defaults to 1s.
	RetryDelay time.Duration
	// FetchWait is how often an idle loop checks that its session is
	// still usable. Defaults to 5s.
	FetchWait time.Duration
	// Window is how many jobs of a tenant may be fetched ahead of the one
	// being sent (the consumer's max ack pending). With a rate limit it is
	// cut so that the last of them is sent within half the ack wait.
	// Defaults to 32.
	Window int
	// LimitsEvery is how often a tenant's rate limit is read again, so that
	// a change (admin's PUT /v1/sessions/{tenant}) applies without a
	// reconnect. Defaults to 30s.
	LimitsEvery time.Duration
}

func (c Config) withDefaults() Config {
	c.Burst = max(c.Burst, 1)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.AckWait <= 0 {
		c.AckWait = 60 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.FetchWait <= 0 {
		c.FetchWait = 5 * time.Second
	}
	if c.Window <= 0 {
		c.Window = 32
	}
	if c.LimitsEvery <= 0 {
		c.LimitsEvery = 30 * time.Second
	}
	return c
}

// window is how many jobs to fetch ahead at rate (messages a minute, 0:
// unlimited): no fetched job may wait for its turn past half the ack wait.
func (c Config) window(rate float64) int {
	if rate <= 0 {
		return c.Window
	}
	n := int(rate / 60 * c.AckWait.Seconds() / 2)
	return min(max(n, 1), c.Window)
}

// Pipeline sends the jobs of the tenants connected on this worker. It is a
// session.Listener: a tenant's consumer is bound when its session connects
// and released when it stops being usable.
type Pipeline struct {
	cfg     Config
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	names   bus.Names
	log     *slog.Logger
	metrics *metrics
	ledger  *ledger
	lookups *lookups
	numbers *numberCache

	runCtx context.Context
	ready  chan struct{}
	binds  chan struct{} // consumer binds in flight

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
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Pipeline{
		cfg: cfg.withDefaults(), pool: pool, js: js, names: names, metrics: m,
		log:     logger.With(slog.String("component", "send")),
		ledger:  &ledger{w: w, worker: cfg.WorkerID},
		lookups: newLookups(pool),
		numbers: newNumberCache(24 * time.Hour),
		ready:   make(chan struct{}),
		binds:   make(chan struct{}, maxBinds),
		loops:   map[string]*loop{},
	}, nil
}

// maxBinds is how many consumer creations a worker has in flight at once.
const maxBinds = 16

// Run serves tenants until ctx ends and every tenant loop has stopped.
// Start it before the session manager so that Connected finds it running,
// and keep the outbox writer running until it returns.
func (p *Pipeline) Run(ctx context.Context) error {
	p.runCtx = ctx
	lookupCtx, stopLookups := context.WithCancel(context.WithoutCancel(ctx))
	var lw sync.WaitGroup
	lw.Go(func() { p.lookups.run(lookupCtx, 2) })
	lw.Go(func() { p.sweepInvalid(ctx) })
	lw.Go(func() { p.watchReconnects(ctx) })
	close(p.ready)
	<-ctx.Done()
	p.stopAll()
	p.wg.Wait()
	stopLookups()
	lw.Wait()
	return nil
}

// watchReconnects interrupts every loop once the NATS connection has been
// re-established, so that each binds again at once (see consume).
func (p *Pipeline) watchReconnects(ctx context.Context) {
	seen := p.js.Conn().Stats().Reconnects
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := p.js.Conn().Stats().Reconnects
		if n == seen || !p.js.Conn().IsConnected() {
			continue
		}
		seen = n
		p.mu.Lock()
		loops := make([]*loop, 0, len(p.loops))
		for _, l := range p.loops {
			loops = append(loops, l)
		}
		p.mu.Unlock()
		for _, l := range loops {
			l.interrupt()
		}
	}
}

// Connected implements session.Listener: it binds the tenant's consumer.
func (p *Pipeline) Connected(tenant string, s *session.Session) {
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
			<-old.done // its jobs are settled or handed back before we bind
		}
		l.run()
	})
}

// Disconnected implements session.Listener: it stops the tenant's loop
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
