package worker

import (
	"context"
	"log/slog"

	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
)

// newWhatsmeowDriver returns the real WhatsApp driver, whose paired
// devices the phone lists as WA_DEVICE_NAME, and what runs beside it: the
// refresher of the client version it logs in with, nil when
// WA_VERSION_REFRESH is 0.
func newWhatsmeowDriver(cfg config.Config, logger *slog.Logger) (wa.Driver, func(context.Context) error) {
	d := wmdriver.New(wmdriver.Config{VersionRefresh: cfg.VersionRefresh, DeviceName: cfg.DeviceName}, logger)
	if cfg.VersionRefresh == 0 {
		return d, nil
	}
	return d, d.Run
}

// liveness is how the sessions judge connections and retry refusals, as
// the environment sets it.
func liveness(cfg config.Config) session.Liveness {
	return session.Liveness{
		KeepAliveTimeout: cfg.KeepAliveTimeout,
		LoginTimeout:     cfg.LoginTimeout,
		OutdatedRetry:    cfg.ClientOutdatedRetry,
		ReplacedMax:      cfg.StreamReplacedMax,
		ReplacedWindow:   cfg.StreamReplacedWindow,
	}
}
