package wmdriver

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"

	"github.com/wabus/wabus/internal/obs"
)

// qrCodeFormat is the whatsmeow debug line that prints a QR code, which
// holds the device's ADV secret key; the adapter drops it.
const qrCodeFormat = "Emitting QR code %s"

// slogLogger adapts a *slog.Logger to waLog.Logger.
type slogLogger struct {
	l      *slog.Logger
	module string
}

// NewLogger returns a waLog.Logger that writes to l with a "module"
// attribute: module, then module/sub for each Sub. whatsmeow's Debugf goes
// to slog's Debug level, Infof to Info, Warnf to Warn and Errorf to Error.
// Messages are formatted only when l has the level enabled, and user JIDs
// in them are shortened (see obs.RedactJIDs). It never fails.
func NewLogger(l *slog.Logger, module string) waLog.Logger {
	return &slogLogger{l: l, module: module}
}

func (s *slogLogger) Errorf(msg string, args ...any) { s.log(slog.LevelError, msg, args) }
func (s *slogLogger) Warnf(msg string, args ...any)  { s.log(slog.LevelWarn, msg, args) }
func (s *slogLogger) Infof(msg string, args ...any)  { s.log(slog.LevelInfo, msg, args) }
func (s *slogLogger) Debugf(msg string, args ...any) { s.log(slog.LevelDebug, msg, args) }

// Sub returns a logger for a part of whatsmeow, e.g. module "whatsmeow/Socket".
func (s *slogLogger) Sub(module string) waLog.Logger {
	return &slogLogger{l: s.l, module: s.module + "/" + module}
}

func (s *slogLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !s.l.Enabled(ctx, level) || format == qrCodeFormat {
		return
	}
	s.l.LogAttrs(ctx, level, obs.RedactJIDs(fmt.Sprintf(format, args...)), slog.String("module", s.module))
}
