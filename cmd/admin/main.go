// Command admin serves the admin HTTP API (CONTRACT's "Admin HTTP"):
// sessions, pairing by QR stream or phone code, sending, and the old Node
// API's routes. Configuration is the environment; WA_ADMIN_TOKEN is
// required.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wabus/wabus/internal/admin"
	"github.com/wabus/wabus/internal/config"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/session/wmdriver"
)

func main() {
	host, _ := os.Hostname()
	cfg, err := config.Load(os.LookupEnv, host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin:", err)
		os.Exit(2)
	}
	if cfg.AdminToken == "" {
		fmt.Fprintln(os.Stderr, "admin: WA_ADMIN_TOKEN is not set; refusing to start without a bearer token")
		os.Exit(2)
	}
	logger := obs.NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := admin.Run(ctx, cfg, wmdriver.Devices{}, logger); err != nil {
		logger.Error("admin failed", "error", err.Error())
		os.Exit(1)
	}
}
