package worker

import (
	"log/slog"

	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
)

type sessionStore = *sqlstore.Container

// newWhatsmeowDriver returns the real WhatsApp driver.
func newWhatsmeowDriver(logger *slog.Logger) wa.Driver {
	return wmdriver.New(wmdriver.Config{}, logger)
}
