package session

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wabus/wabus/internal/session/wmdriver"
)

// OpenStore returns whatsmeow's device store over pool: the same Postgres
// database as wabus's own tables, through pgx.
func OpenStore(pool *pgxpool.Pool, logger *slog.Logger) *sqlstore.Container {
	return sqlstore.NewWithDB(stdlib.OpenDBFromPool(pool), "pgx", wmdriver.NewLogger(logger, "whatsmeow/store"))
}

// UpgradeStore returns a migration step (for db.Migrate) that creates or
// upgrades whatsmeow's own tables.
func UpgradeStore(c *sqlstore.Container) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := c.Upgrade(ctx); err != nil {
			return fmt.Errorf("upgrade whatsmeow store: %w", err)
		}
		return nil
	}
}
