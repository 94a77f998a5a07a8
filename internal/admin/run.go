package admin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/obs"
)

// Run runs the admin process until ctx ends: it connects to Postgres
// (retrying for up to a minute) and applies wabus's migrations (whatsmeow's
// own tables are the workers' to upgrade), connects to NATS and provisions
// the streams and buckets (whichever process starts first does it), then
// serves cfg.AdminAddr. It returns ErrNoToken without WA_ADMIN_TOKEN, an
// error when start-up fails, and nil after a graceful shutdown.
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if cfg.AdminToken == "" {
		return ErrNoToken
	}
	pool, err := openDB(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	nc, err := bus.Connect(cfg.NATSURL, cfg.NATSCreds, "wabus-admin", logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	names := bus.NewNames(cfg.SubjectPrefix)
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := bus.Provision(pctx, js, names, bus.Config{SendMaxAge: cfg.SendMaxAge}); err != nil {
		return err
	}
	srv, err := New(Config{Addr: cfg.AdminAddr, Token: cfg.AdminToken, MaxBody: cfg.AdminMaxBody}, Deps{
		Pool: pool, NATS: nc, JS: js, Names: names, Logger: logger, Registry: obs.NewRegistry(),
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// openDB connects to Postgres, retrying for up to a minute at start-up.
func openDB(ctx context.Context, url string, logger *slog.Logger) (*pgxpool.Pool, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		pool, err := db.Open(ctx, url)
		if err == nil {
			return pool, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		logger.WarnContext(ctx, "postgres not reachable yet", slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open postgres: %w", ctx.Err())
		case <-time.After(2 * time.Second):
		}
	}
}
