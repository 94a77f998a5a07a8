package send

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/session"
)

// loop consumes one tenant's jobs while its session is usable.
type loop struct {
	p      *Pipeline
	tenant string
	sess   *session.Session
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
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

func (l *loop) run() {
	defer close(l.done)
	cons, lim, err := l.bind()
	for err != nil {
		if l.ctx.Err() != nil {
			return
		}
		l.log.WarnContext(l.ctx, "bind send consumer failed", slog.String("error", err.Error()))
		if !sleep(l.ctx, 2*time.Second) {
			return
		}
		cons, lim, err = l.bind()
	}
	for l.ctx.Err() == nil && l.sess.Usable() {
		if lim.wait(l.ctx) != nil {
			return
		}
		msg, err := l.fetch(cons)
		if err != nil {
			if l.ctx.Err() == nil {
				l.log.WarnContext(l.ctx, "fetch send job failed", slog.String("error", err.Error()))
				sleep(l.ctx, time.Second)
			}
			continue
		}
		if msg != nil {
			l.p.handle(l, msg)
		}
	}
}

// bind creates or updates the tenant's durable consumer: one job in flight
// at a time keeps the tenant's order through retries and redeliveries.
func (l *loop) bind() (jetstream.Consumer, *limiter, error) {
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	cons, err := l.p.js.CreateOrUpdateConsumer(ctx, l.p.names.SendStream(), jetstream.ConsumerConfig{
		Durable:           ConsumerName(l.tenant),
		FilterSubject:     l.p.names.Send(l.tenant),
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           l.p.cfg.AckWait,
		MaxAckPending:     1,
		MaxDeliver:        -1,
		InactiveThreshold: 7 * 24 * time.Hour,
	})
	if err != nil {
		return nil, nil, err
	}
	rate, burst, err := l.limits(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cons, newLimiter(rate, burst), nil
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

// fetch waits for the next job, or returns nil after FetchWait.
func (l *loop) fetch(cons jetstream.Consumer) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.p.cfg.FetchWait)
	defer cancel()
	batch, err := cons.Fetch(1, jetstream.FetchContext(ctx))
	if err != nil {
		return nil, err
	}
	var got jetstream.Msg
	for m := range batch.Messages() {
		got = m
	}
	if err := batch.Error(); err != nil && got == nil && ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
		return nil, err
	}
	return got, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
