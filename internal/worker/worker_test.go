package worker_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/worker"
)

// A worker whose metrics address is taken has no /healthz: it stops with
// the listen error at once rather than running on unobserved.
func TestWorkerStopsWhenMetricsAddressTaken(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := workertest.Config(t, s, "taken")
	cfg.MetricsAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, workertest.Logger()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("worker returned nil with its metrics address taken")
		}
		t.Logf("worker stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("worker still running 60s after its metrics address was found taken")
	}
}
