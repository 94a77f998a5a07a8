package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/session/wa"
)

// Sessions is what the router needs of the sessions this worker runs.
type Sessions interface {
	// Runs reports whether a session of tenant runs on this worker.
	Runs(tenant string) bool
	// Ask has tenant's session on this worker carry out op and returns its
	// reply; ok is false when no session of tenant runs here.
	Ask(ctx context.Context, tenant, op string, req ctl.Request) (rep ctl.Reply, ok bool)
}

// Leases is what the router needs of the lease keeper.
type Leases interface {
	// Acquire takes tenant's lease and starts its session here. It returns
	// a *lease.HeldError when another live worker holds it, and
	// lease.ErrUnknownTenant for a tenant that does not exist.
	Acquire(ctx context.Context, tenant string) (lease.Lease, error)
	// Owner returns the worker holding tenant's lease, and whether that
	// lease is live.
	Owner(ctx context.Context, tenant string) (owner string, live bool, err error)
}

// Config configures a Router.
type Config struct {
	// WorkerID names this worker. Required.
	WorkerID string
	// Names are the subjects under the worker's prefix. Required.
	Names bus.Names
	// Sim is the simulator driver's control, whose operations the router
	// serves on <prefix>.sim.<tenant>.<op>. Defaults to nil: no simulator.
	Sim wa.Controller
}

func (c Config) validate() error {
	if c.WorkerID == "" || c.Names.Prefix() == "" {
		return errors.New("control: worker id and names are required")
	}
	return nil
}

// flushTimeout bounds how long Run waits for the server to confirm its
// subscriptions.
const flushTimeout = 10 * time.Second

// queueGroup is the queue group every worker takes requests from.
const queueGroup = "wabus-workers"

// ctlDeadline is how long a control request may take here; admin waits a
// little longer, so it always gets an answer.
const ctlDeadline = 1800 * time.Millisecond

// pairPhoneDeadline is ctlDeadline for pair-phone: the driver's PairPhone
// first waits for the pairing socket to be ready (wmdriver's
// PairReadyTimeout, 15s by default), then asks WhatsApp for the code.
// Admin waits longer (its PairPhoneWait, 25s by default).
const pairPhoneDeadline = 20 * time.Second

// deadline is how long a control request for op may take here.
func deadline(op string) time.Duration {
	if op == ctl.OpPairPhone {
		return pairPhoneDeadline
	}
	return ctlDeadline
}

// Router answers control and simulator requests, or forwards them to the
// tenant's owner. Build it with New.
type Router struct {
	cfg      Config
	nc       *nats.Conn
	sessions Sessions
	leases   Leases
	log      *slog.Logger
	metrics  *metrics

	ctx   context.Context // set by Run; requests derive from it
	wg    sync.WaitGroup  // requests in flight
	ready chan struct{}   // closed once Run subscribed
}

// New returns a Router for cfg, registering its metrics on reg. It returns
// an error when cfg lacks a worker id or names, a dependency is nil, or the
// metrics cannot be registered.
func New(cfg Config, nc *nats.Conn, sessions Sessions, leases Leases, logger *slog.Logger, reg prometheus.Registerer) (*Router, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if nc == nil || sessions == nil || leases == nil {
		return nil, errors.New("control: nats, sessions and leases are required")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, nc: nc, sessions: sessions, leases: leases, metrics: m,
		log: logger.With(slog.String("component", "control")), ready: make(chan struct{})}, nil
}

// Run serves requests until ctx ends, then stops taking them, answers the
// ones it took and returns nil. Requests in flight see ctx ended. It
// returns an error when the subscriptions cannot be made.
func (r *Router) Run(ctx context.Context) error {
	r.ctx = ctx
	subs, err := r.subscribe()
	if err == nil {
		err = r.nc.FlushTimeout(flushTimeout)
	}
	if err != nil {
		drain(subs)
		r.wg.Wait()
		return fmt.Errorf("subscribe to control requests: %w", err)
	}
	close(r.ready)
	<-ctx.Done()
	drain(subs)
	r.wg.Wait()
	return nil
}

// Ready is closed once Run listens: the server has its subscriptions.
func (r *Router) Ready() <-chan struct{} { return r.ready }

// subscribe listens on the queue group's subjects and on this worker's
// private subject, to which other workers forward.
func (r *Router) subscribe() ([]*nats.Subscription, error) {
	n := r.cfg.Names
	private := n.Worker(r.cfg.WorkerID)
	type sub struct {
		subject, queue string
		fn             func(*nats.Msg)
	}
	subs := []sub{
		{n.Ctl("*", "*"), queueGroup, r.async(r.onCtl(taken))},
		{private + ".ctl.*.*", "", r.async(r.onCtl(forwarded))},
	}
	if c := r.cfg.Sim; c != nil {
		for _, op := range c.ControlOps() {
			subs = append(subs, sub{n.Sim("*", op), queueGroup, r.async(r.onSim(taken))})
		}
		subs = append(subs, sub{private + ".sim.*.*", "", r.async(r.onSim(forwarded))})
	}
	var out []*nats.Subscription
	for _, s := range subs {
		ns, err := r.nc.QueueSubscribe(s.subject, s.queue, s.fn)
		if err != nil {
			for _, o := range out {
				_ = o.Unsubscribe()
			}
			return nil, err
		}
		out = append(out, ns)
	}
	return out, nil
}

// async runs each request in its own goroutine, so that a slow one (a
// pairing waiting for its first code) does not hold up the others.
func (r *Router) async(fn func(*nats.Msg)) func(*nats.Msg) {
	return func(msg *nats.Msg) { r.wg.Go(func() { fn(msg) }) }
}

// drain stops subs taking messages and waits until the ones they took were
// handed to their callbacks.
func drain(subs []*nats.Subscription) {
	closed := make([]<-chan nats.SubStatus, len(subs))
	for i, s := range subs {
		closed[i] = s.StatusChanged(nats.SubscriptionClosed)
		if s.Drain() != nil {
			_ = s.Unsubscribe()
		}
	}
	for _, c := range closed {
		for range c {
		}
	}
}
