package worker

import (
	"log/slog"

	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
)

type sessionStore = *sqlstore.Container

// newWhatsmeowDriver returns the real WhatsApp driver; its paired devices
// are listed on the phone as deviceName.
func newWhatsmeowDriver(deviceName string, logger *slog.Logger) wa.Driver {
	return wmdriver.New(wmdriver.Config{DeviceName: deviceName}, logger)
}
