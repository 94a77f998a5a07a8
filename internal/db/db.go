// Package db opens the Postgres pool and applies wabus's schema.
package db

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to url and checks that the server answers. It returns
// an error when the URL is malformed or Postgres cannot be reached within ctx.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.MaxConnIdleTime = time.Minute
	cfg.HealthCheckPeriod = 10 * time.Second
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return pool, nil
}

// OpenRetry is Open for a process starting up: while Postgres cannot be
// reached it tries again every 2s, for up to a minute, logging each miss.
func OpenRetry(ctx context.Context, url string, logger *slog.Logger) (*pgxpool.Pool, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		pool, err := Open(ctx, url)
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
