// Command worker runs WhatsApp sessions for the tenants it owns, sends the
// jobs published to wa.send.<tenant> and publishes events to
// wa.events.<tenant>.<kind>. Configuration is the environment (CONTRACT).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/worker"
)

func main() {
	host, _ := os.Hostname()
	cfg, err := config.Load(os.LookupEnv, host)
	if err == nil {
		err = cfg.ValidateWorker()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	logger := obs.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg, logger); err != nil {
		logger.Error("worker failed", "error", err.Error())
		os.Exit(1)
	}
}
