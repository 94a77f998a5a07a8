// Package worker wires a worker process: Postgres and migrations, NATS and
// JetStream provisioning, the outbox relay, the session manager with its
// driver, and the metrics/health endpoints.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/send"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wa"
)

// Run runs a worker until ctx ends, then drains: sessions disconnect and
// their leases are released, the outbox relay publishes what they wrote, and
// Run returns nil. It returns an error when start-up fails (Postgres or
// NATS unreachable for too long, a port taken) or a component fails.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	logger = logger.With(slog.String("worker", cfg.WorkerID))
	pool, err := db.OpenRetry(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := openStore(pool, logger)
	if err := db.Migrate(ctx, pool, store.Upgrade); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	nc, js, names, err := bus.Open(ctx, cfg.NATSURL, cfg.NATSCreds, "wabus-worker "+cfg.WorkerID, cfg.SubjectPrefix,
		bus.Config{SendMaxAge: cfg.SendMaxAge, Replicas: cfg.StreamReplicas}, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	reg := obs.NewRegistry()
	p := &parts{cfg: cfg, log: logger, pool: pool, nc: nc, js: js, names: names, reg: reg}
	if err := p.build(store); err != nil {
		return err
	}
	return p.run(ctx)
}

// parts are the running components of a worker.
type parts struct {
	cfg   config.Config
	log   *slog.Logger
	pool  *pgxpool.Pool
	nc    *nats.Conn
	js    jetstream.JetStream
	names bus.Names
	reg   *prometheus.Registry

	relay   *outbox.Relay
	writer  *outbox.Writer
	manager *session.Manager
	sender  *send.Pipeline
	closers []func() error
	beside  []func(context.Context) error // run beside the manager (the driver's own work)
}

func (p *parts) build(store sessionStore) error {
	var err error
	if p.relay, err = outbox.NewRelay(outbox.RelayConfig{}, p.pool, p.js, p.log, p.reg); err != nil {
		return err
	}
	p.writer = outbox.NewWriter(p.pool, p.relay.Notify)
	driver, err := p.driver()
	if err != nil {
		return err
	}
	p.manager, err = session.New(session.Config{WorkerID: p.cfg.WorkerID, LeaseTTL: p.cfg.LeaseTTL,
		InboundMediaMax: p.cfg.InboundMediaMax, Liveness: liveness(p.cfg)}, session.Deps{
		Pool: p.pool, Store: store, Driver: driver, NATS: p.nc, JS: p.js, Names: p.names, Logger: p.log, Registry: p.reg,
		Writer: p.writer,
	})
	if err != nil {
		return err
	}
	p.sender, err = send.New(send.Config{WorkerID: p.cfg.WorkerID, Rate: p.cfg.SendRate, Burst: p.cfg.SendBurst,
		MaxAge: p.cfg.SendMaxAge, Retention: p.cfg.JobRetention, LeaseTTL: p.cfg.LeaseTTL},
		p.pool, p.writer, p.js, p.names, p.log, p.reg)
	if err != nil {
		return err
	}
	p.manager.AddListener(p.sender)
	return nil
}

func (p *parts) driver() (wa.Driver, error) {
	switch p.cfg.Driver {
	case "sim":
		d, err := sim.New(sim.Config{WorkerID: p.cfg.WorkerID, Names: p.names}, p.pool, p.nc, p.log)
		if err != nil {
			return nil, err
		}
		p.closers = append(p.closers, d.Close)
		return d, nil
	default:
		d, run := newWhatsmeowDriver(p.cfg, p.log)
		if run != nil {
			p.beside = append(p.beside, run)
		}
		return d, nil
	}
}

// run starts everything and stops it in order: sessions first (their
// send loops settle the job in flight), then the send pipeline's ledger,
// then the relay (so the last events are published), then the endpoints.
func (p *parts) run(ctx context.Context) error {
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	sendCtx, stopSend := context.WithCancel(context.WithoutCancel(ctx))
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	// The first component to fail stops the sessions, and with them the
	// worker: a worker without its endpoints or its relay must not run on.
	sessCtx, failed := context.WithCancelCause(ctx)
	defer failed(nil)
	var wg, sendWG, writerWG sync.WaitGroup
	errs := make(chan error, 4+len(p.beside))
	report := func(what string, err error) {
		if err = named(what, err); err != nil {
			failed(err)
		}
		errs <- err
	}
	wg.Go(func() { report("outbox relay", p.relay.Run(relayCtx)) })
	for _, run := range p.beside {
		wg.Go(func() { report("driver", run(httpCtx)) })
	}
	writerWG.Go(func() { p.writer.Run(writerCtx, 4) })
	sendWG.Go(func() { report("send pipeline", p.sender.Run(sendCtx)) })
	wg.Go(func() { report("metrics server", obs.Serve(httpCtx, p.cfg.MetricsAddr, p.mux(), p.log)) })
	p.log.InfoContext(ctx, "worker started", slog.String("driver", p.cfg.Driver), slog.String("metrics", p.cfg.MetricsAddr))
	err := named("session manager", p.manager.Run(sessCtx))
	stopSend()
	sendWG.Wait()
	stopWriter()
	writerWG.Wait()
	stopRelay()
	stopHTTP()
	wg.Wait()
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	for _, c := range p.closers {
		_ = c()
	}
	p.log.Info("worker stopped")
	return err
}

func named(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (p *parts) mux() http.Handler {
	mux := http.NewServeMux()
	obs.Register(mux, p.reg,
		obs.Check{Name: "postgres", Fn: p.pool.Ping},
		obs.Check{Name: "nats", Fn: func(context.Context) error {
			if !p.nc.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		}})
	return mux
}
