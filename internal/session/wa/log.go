package wa

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"
)

// NewLogger adapts logger to whatsmeow's waLog.Logger. whatsmeow's debug
// output is very chatty and goes to slog's debug level.
func NewLogger(logger *slog.Logger, module string) waLog.Logger {
	return &slogAdapter{log: logger.With(slog.String("module", module)), module: module}
}

type slogAdapter struct {
	log    *slog.Logger
	module string
}

func (a *slogAdapter) emit(level slog.Level, msg string, args []any) {
	if !a.log.Enabled(context.Background(), level) {
		return
	}
	a.log.Log(context.Background(), level, fmt.Sprintf(msg, args...))
}

func (a *slogAdapter) Warnf(msg string, args ...any)  { a.emit(slog.LevelWarn, msg, args) }
func (a *slogAdapter) Errorf(msg string, args ...any) { a.emit(slog.LevelError, msg, args) }
func (a *slogAdapter) Infof(msg string, args ...any)  { a.emit(slog.LevelInfo, msg, args) }
func (a *slogAdapter) Debugf(msg string, args ...any) { a.emit(slog.LevelDebug, msg, args) }

func (a *slogAdapter) Sub(module string) waLog.Logger {
	return NewLogger(a.log, a.module+"/"+module)
}
