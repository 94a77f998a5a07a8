// Package worker is the composition root of a worker process: it builds
// the outbox relay and writer, the session manager with its driver and
// lease keeper, the control router, the send pipeline and the
// metrics/health endpoints (New), runs them, and stops them in stages
// (Run).
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/control"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/send"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wa"
)

// Registry is where a worker registers its metrics and what /metrics
// serves.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Deps are what a worker runs on; Open builds them from a config.
type Deps struct {
	// Pool is the worker's Postgres, migrated. Required.
	Pool *pgxpool.Pool
	// NATS and JS are the worker's NATS connection, with the streams
	// provisioned. Required.
	NATS *nats.Conn
	JS   jetstream.JetStream
	// Names are the subjects under the configured prefix. Required.
	Names bus.Names
	// Logger defaults to one that discards.
	Logger *slog.Logger
	// Registry defaults to a new obs.NewRegistry().
	Registry Registry
	// Driver is the WhatsApp driver. Defaults to the one cfg.Driver names.
	Driver wa.Driver
	// DriverRun, with Driver, is the driver's own work, run beside the
	// sessions until the worker stops (wmdriver's version refresher, say).
	DriverRun func(context.Context) error
	// Session, when set, adjusts the session manager's configuration after
	// cfg has set it (tests shorten its delays).
	Session func(*session.Config)
}

func (d Deps) validate() error {
	if d.Pool == nil || d.NATS == nil || d.JS == nil || d.Names.Prefix() == "" {
		return errors.New("worker: pool, nats, jetstream and names are required")
	}
	return nil
}

// Open connects to Postgres (retrying while it is unreachable) and
// migrates it, connects to NATS and provisions JetStream, and returns the
// Deps built on them with close, which closes both. It returns an error
// when either cannot be reached or migrated.
func Open(ctx context.Context, cfg config.Config, logger *slog.Logger) (deps Deps, close func(), err error) {
	pool, err := db.OpenRetry(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return Deps{}, nil, err
	}
	if err := Migrate(ctx, pool, logger); err != nil {
		pool.Close()
		return Deps{}, nil, err
	}
	nc, js, names, err := bus.Open(ctx, cfg.NATSURL, cfg.NATSCreds, "wabus-worker "+cfg.WorkerID, cfg.SubjectPrefix,
		bus.Config{SendMaxAge: cfg.SendMaxAge, Replicas: cfg.StreamReplicas}, logger)
	if err != nil {
		pool.Close()
		return Deps{}, nil, err
	}
	close = func() { nc.Close(); pool.Close() }
	return Deps{Pool: pool, NATS: nc, JS: js, Names: names, Logger: logger}, close, nil
}

// Migrate applies wabus's migrations to pool and creates or upgrades the
// device store's tables, under the migration lock. It returns an error
// when either fails.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	if err := db.Migrate(ctx, pool, openStore(pool, logger).Upgrade); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Run opens a worker's dependencies for cfg, runs the worker until ctx
// ends, and closes them. It returns the errors of Open, New and
// (*Worker).Run.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	logger = logger.With(slog.String("worker", cfg.WorkerID))
	deps, closeDeps, err := Open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeDeps()
	w, err := New(cfg, deps)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Worker is a built worker process. Build it with New, run it once with Run.
type Worker struct {
	cfg  config.Config
	deps Deps
	log  *slog.Logger

	relay   *outbox.Relay
	writer  *outbox.Writer
	manager *session.Manager
	router  *control.Router
	sender  *send.Pipeline
	closers []func() error
	beside  []func(context.Context) error // the driver's own work, run beside the sessions
}

// New builds a worker for cfg on deps. It returns an error when deps lack
// a required dependency, the driver cannot be built, or a component's
// metrics cannot be registered.
func New(cfg config.Config, deps Deps) (*Worker, error) {
	if err := deps.validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registry == nil {
		deps.Registry = obs.NewRegistry()
	}
	w := &Worker{cfg: cfg, deps: deps, log: deps.Logger}
	if err := w.build(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *Worker) build() error {
	d, reg := w.deps, w.deps.Registry
	var err error
	if w.relay, err = outbox.NewRelay(outbox.RelayConfig{}, d.Pool, d.JS, w.log, reg); err != nil {
		return err
	}
	w.writer = outbox.NewWriter(d.Pool, w.relay.Notify)
	driver, err := w.driver()
	if err != nil {
		return err
	}
	scfg := session.Config{WorkerID: w.cfg.WorkerID, LeaseTTL: w.cfg.LeaseTTL,
		InboundMediaMax: w.cfg.InboundMediaMax, Liveness: liveness(w.cfg)}
	if d.Session != nil {
		d.Session(&scfg)
	}
	w.manager, err = session.New(scfg, session.Deps{
		Pool: d.Pool, Store: openStore(d.Pool, w.log), Driver: driver, NATS: d.NATS, JS: d.JS, Names: d.Names,
		Logger: w.log, Registry: reg, Writer: w.writer,
	})
	if err != nil {
		return err
	}
	simCtl, _ := driver.(wa.Controller)
	w.router, err = control.New(control.Config{WorkerID: w.cfg.WorkerID, Names: d.Names, Sim: simCtl},
		d.NATS, w.manager, w.manager.Keeper(), w.log, reg)
	if err != nil {
		return err
	}
	w.sender, err = send.New(send.Config{WorkerID: w.cfg.WorkerID, Rate: w.cfg.SendRate, Burst: w.cfg.SendBurst,
		MaxAge: w.cfg.SendMaxAge, Retention: w.cfg.JobRetention, LeaseTTL: w.cfg.LeaseTTL},
		d.Pool, w.writer, d.JS, d.Names, w.log, reg)
	if err != nil {
		return err
	}
	w.manager.AddListener(sendListener{w.sender})
	return nil
}

// sendListener tells the send pipeline of its tenants' sessions.
type sendListener struct{ *send.Pipeline }

// Connected starts tenant's send loop on its session s.
func (l sendListener) Connected(tenant string, s *session.Session) { l.Pipeline.Connected(tenant, s) }

// Close releases what New took (the simulator driver's subscriptions) for
// a worker that is not run; Run does it itself when it returns. It returns
// nil.
func (w *Worker) Close() error {
	w.close()
	return nil
}

func (w *Worker) close() {
	for _, c := range w.closers {
		_ = c()
	}
	w.closers = nil
}
