package admin

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/session/wa"
)

// Run runs the admin process until ctx ends: it connects to Postgres
// (retrying for up to a minute) and applies wabus's migrations (whatsmeow's
// own tables are the workers' to upgrade), connects to NATS and provisions
// the streams and buckets (whichever process starts first does it), then
// serves cfg.AdminAddr. It returns ErrNoToken without WA_ADMIN_TOKEN, an
// error when start-up fails, and nil after a graceful shutdown. devices is
// the WhatsApp driver's device store, where a deleted tenant's device goes.
func Run(ctx context.Context, cfg config.Config, devices wa.DeviceDeleter, logger *slog.Logger) error {
	if cfg.AdminToken == "" {
		return ErrNoToken
	}
	pool, err := db.OpenRetry(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	nc, js, names, err := bus.Open(ctx, cfg.NATSURL, cfg.NATSCreds, "wabus-admin", cfg.SubjectPrefix,
		bus.Config{SendMaxAge: cfg.SendMaxAge, Replicas: cfg.StreamReplicas}, logger)
	if err != nil {
		return err
	}
	defer nc.Close()
	srv, err := New(Config{Addr: cfg.AdminAddr, Token: cfg.AdminToken, MaxBody: cfg.AdminMaxBody}, Deps{
		Pool: pool, NATS: nc, JS: js, Names: names, Devices: devices, Logger: logger, Registry: obs.NewRegistry(),
	})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
