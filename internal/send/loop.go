package send

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session"
)

// loop consumes one tenant's jobs while its session is usable. Up to a
// window of jobs is fetched ahead, but they are handled one at a time in
// stream order; a job that has to go back to JetStream takes every job
// fetched after it back too, in order, so nothing overtakes it.
type loop struct {
	p      *Pipeline
	tenant string
	sess   *session.Session
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	it jetstream.MessagesContext // the iterator being read, if any
}

// interrupt stops the fetching of jobs: Next hands out what was fetched
// already, then ends, and the loop checks why.
func (l *loop) interrupt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.it != nil {
		l.it.Drain()
	}
}

func (l *loop) setIterator(it jetstream.MessagesContext) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.it = it
}

func newLoop(p *Pipeline, tenant string, s *session.Session) *loop {
	ctx, cancel := context.WithCancel(p.runCtx)
	return &loop{p: p, tenant: tenant, sess: s, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		log: p.log.With(slog.String("tenant", tenant))}
}

func (l *loop) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// ConsumerName is the durable consumer of a tenant's send jobs.
func ConsumerName(tenant string) string { return "send-" + tenant }

// handBackPause is how long a loop waits after handing jobs back before it
// binds again (Postgres or NATS trouble, usually); failures in a row double
// it, with jitter, up to maxBindPause, so that thousands of tenants do not
// hammer an overloaded nats-server in step.
const (
	handBackPause = time.Second
	maxBindPause  = 30 * time.Second
)

func (l *loop) run() {
	defer close(l.done)
	backoff := retry.Backoff{Min: handBackPause, Max: maxBindPause}
	for l.ctx.Err() == nil && l.sess.Usable() {
		err := l.consume()
		if l.ctx.Err() != nil {
			return
		}
		if err != nil {
			pause := backoff.Next()
			l.log.WarnContext(l.ctx, "send consumer failed", slog.String("error", err.Error()), slog.Duration("retry_in", pause))
			retry.Sleep(l.ctx, pause)
			continue
		}
		backoff.Reset()
		retry.Sleep(l.ctx, handBackPause)
	}
}

// consume binds the consumer and handles jobs until the loop stops, the
// session stops being usable, or a job is handed back.
func (l *loop) consume() error {
	cons, lim, window, err := l.bind()
	if err != nil {
		return err
	}
	checked := time.Now() // when the tenant's rate limit was last read
	it, err := cons.Messages(jetstream.PullMaxMessages(window))
	if err != nil {
		return err
	}
	defer it.Stop()
	l.setIterator(it)
	defer l.setIterator(nil)
	stop := context.AfterFunc(l.ctx, it.Drain)
	defer stop()
	// Once back is set no job is handled: the ones still fetched are handed
	// back in order, and the loop binds again.
	back := false
	rebind := func() {
		if !back {
			back = true
			it.Drain()
		}
	}
	// After a reconnect, jobs the server sent while the connection was
	// going down are pending with nobody to see them until their ack wait
	// ends; binding again makes the consumer anew at the oldest of them.
	// (The pipeline interrupts every loop when it sees a reconnect, so an
	// idle one does not wait for its fetch to time out.)
	reconnects := l.p.js.Conn().Stats().Reconnects
	for {
		msg, err := it.Next(jetstream.NextMaxWait(l.p.cfg.FetchWait))
		if !back && l.p.js.Conn().Stats().Reconnects != reconnects {
			l.log.InfoContext(l.ctx, "reconnected to NATS: binding the send consumer again")
			rebind()
		}
		if !back && time.Since(checked) >= l.p.cfg.LimitsEvery {
			checked = time.Now()
			if l.limitsChanged(lim) {
				l.log.InfoContext(l.ctx, "send rate limit changed: binding the send consumer again")
				rebind()
			}
		}
		switch {
		case errors.Is(err, jetstream.ErrMsgIteratorClosed):
			return nil
		case errors.Is(err, nats.ErrTimeout):
			if !l.sess.Usable() {
				rebind()
			}
			continue
		case err != nil:
			l.log.WarnContext(l.ctx, "next send job", slog.String("error", err.Error()))
			rebind()
			continue
		}
		if back || l.ctx.Err() != nil || !l.sess.Usable() || lim.wait(l.ctx) != nil {
			if err := msg.Nak(); err != nil {
				l.log.WarnContext(l.ctx, "nak job", slog.String("error", err.Error()))
			}
			rebind()
			continue
		}
		if !l.p.handle(l, msg) {
			rebind()
		}
	}
}

// bind creates or updates the tenant's durable consumer. Jobs still
// pending on it were fetched by a loop that is gone (a dead worker, or
// this worker before a hand-back or restart): we hold the lease, so nobody
// else may act on them, and instead of waiting out their ack wait the
// consumer is made anew. The send stream is a work queue, so a new
// consumer starts at the oldest job not yet acknowledged.
func (l *loop) bind() (jetstream.Consumer, *limiter, int, error) {
	select { // a few binds at a time: a restore binds thousands
	case l.p.binds <- struct{}{}:
		defer func() { <-l.p.binds }()
	case <-l.ctx.Done():
		return nil, nil, 0, l.ctx.Err()
	}
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	rate, burst, err := l.limits(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	window := l.p.cfg.window(rate)
	cfg := jetstream.ConsumerConfig{
		Durable:           ConsumerName(l.tenant),
		FilterSubject:     l.p.names.Send(l.tenant),
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           l.p.cfg.AckWait,
		MaxAckPending:     window,
		MaxDeliver:        -1,
		InactiveThreshold: 7 * 24 * time.Hour,
	}
	stream := l.p.names.SendStream()
	cons, err := l.p.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	if info := cons.CachedInfo(); info != nil && info.NumAckPending > 0 {
		l.log.InfoContext(ctx, "send consumer had jobs in flight of a gone loop; making it anew", slog.Int("pending", info.NumAckPending))
		if err := l.p.js.DeleteConsumer(ctx, stream, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, nil, 0, err
		}
		if cons, err = l.p.js.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
			return nil, nil, 0, err
		}
	}
	return cons, newLimiter(rate, burst), window, nil
}

// limitsChanged reports whether the tenant's rate limit differs from the
// one lim was made with (an error reading it changes nothing).
func (l *loop) limitsChanged(lim *limiter) bool {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	rate, burst, err := l.limits(ctx)
	return err == nil && !lim.is(rate, burst)
}

const tenantLimits = `SELECT send_rate, send_burst FROM wabus_tenant WHERE id = $1`

// limits returns the tenant's rate limit: its override or the default.
func (l *loop) limits(ctx context.Context) (float64, int, error) {
	var rate *float64
	var burst *int
	err := l.p.pool.QueryRow(ctx, tenantLimits, l.tenant).Scan(&rate, &burst)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, err
	}
	r, b := l.p.cfg.Rate, l.p.cfg.Burst
	if rate != nil {
		r = *rate
	}
	if burst != nil {
		b = *burst
	}
	return r, b, nil
}
