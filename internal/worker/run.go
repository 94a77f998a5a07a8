package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/session/wa"
)

// driver returns Deps.Driver, or builds the driver cfg.Driver names.
func (w *Worker) driver() (wa.Driver, error) {
	if w.deps.Driver != nil {
		if w.deps.DriverRun != nil {
			w.beside = append(w.beside, w.deps.DriverRun)
		}
		return w.deps.Driver, nil
	}
	switch w.cfg.Driver {
	case "sim":
		d, err := sim.New(sim.Config{WorkerID: w.cfg.WorkerID, Names: w.deps.Names}, w.deps.Pool, w.deps.NATS, w.log)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, d.Close)
		return d, nil
	default:
		d, run := newWhatsmeowDriver(w.cfg, w.log)
		if run != nil {
			w.beside = append(w.beside, run)
		}
		return d, nil
	}
}

// component is one running part of the worker, stopped by its own cancel.
type component struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

// start runs fn in its own context, which only stop cancels; an error
// from fn fails the worker.
func start(name string, fn func(context.Context) error, fail context.CancelCauseFunc) *component {
	ctx, cancel := context.WithCancel(context.Background())
	c := &component{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := fn(ctx)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			fail(err)
		}
		c.done <- err
	}()
	return c
}

// stop cancels the components and waits for all of them; it returns their
// errors.
func stop(cs ...*component) error {
	for _, c := range cs {
		c.cancel()
	}
	var err error
	for _, c := range cs {
		err = errors.Join(err, <-c.done)
	}
	return err
}

// Run runs the worker until ctx ends or a component fails, whichever is
// first, then stops it in stages: control intake (the requests in flight
// are answered), the sessions (their leases released in parallel), the
// send pipeline, the outbox writer, the outbox relay (so that the last
// events are published), and the endpoints. It returns nil after a clean
// stop, else the errors of the components that failed.
func (w *Worker) Run(ctx context.Context) error {
	defer w.close()
	failCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	var beside []*component
	for _, run := range w.beside {
		beside = append(beside, start("driver", run, fail))
	}
	httpc := start("metrics server", func(ctx context.Context) error {
		return obs.Serve(ctx, w.cfg.MetricsAddr, w.mux(), w.log)
	}, fail)
	relay := start("outbox relay", w.relay.Run, fail)
	writer := start("outbox writer", func(ctx context.Context) error { w.writer.Run(ctx, 4); return nil }, fail)
	sender := start("send pipeline", w.sender.Run, fail)
	router := start("control router", w.router.Run, fail)
	var sessions []*component // started once the router listens
	select {
	case <-w.router.Ready():
		sessions = append(sessions, start("session manager", w.manager.Run, fail))
		w.log.InfoContext(ctx, "worker started", slog.String("driver", w.cfg.Driver), slog.String("metrics", w.cfg.MetricsAddr))
	case <-failCtx.Done():
	}
	<-failCtx.Done()
	err := stop(router)
	err = errors.Join(err, stop(sessions...))
	err = errors.Join(err, stop(sender))
	err = errors.Join(err, stop(writer))
	err = errors.Join(err, stop(relay))
	err = errors.Join(err, stop(append(beside, httpc)...))
	w.log.Info("worker stopped")
	return err
}

func (w *Worker) mux() http.Handler {
	mux := http.NewServeMux()
	obs.Register(mux, w.deps.Registry,
		obs.Check{Name: "postgres", Fn: w.deps.Pool.Ping},
		obs.Check{Name: "nats", Fn: func(context.Context) error {
			if !w.deps.NATS.IsConnected() {
				return errors.New("not connected")
			}
			return nil
		}})
	return mux
}
