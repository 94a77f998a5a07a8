package send

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/tenant"
)

// loop sends one tenant's jobs while its session is usable: it claims the
// next few from the job table (as many as the rate limit allows right
// away, up to the window), sends them one at a time in stream order, and
// records each outcome before the next is sent. With nothing to claim it
// waits for a bell; while the session is not usable it waits until it is
// again or the loop is stopped.
type loop struct {
	p      *Pipeline
	tenant string
	sess   Session
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	bell   chan struct{} // jobs may be waiting

	lim     *limiter
	checked time.Time      // when the tenant's rate limit was last read
	pending sync.WaitGroup // the flush of recorded outcomes

	recMu    sync.Mutex
	recs     []recorded // outcomes waiting for the flush
	flushing bool       // a flush is running
}

func newLoop(p *Pipeline, tenant string, s Session) *loop {
	ctx, cancel := context.WithCancel(p.runCtx)
	return &loop{p: p, tenant: tenant, sess: s, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		bell: make(chan struct{}, 1), log: p.log.With(slog.String("tenant", tenant))}
}

func (l *loop) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// wake tells the loop that jobs may be waiting. It never blocks.
func (l *loop) wake() {
	select {
	case l.bell <- struct{}{}:
	default:
	}
}

// fence is the lease the loop's writes are made under.
func (l *loop) fence() queue.Fence {
	return queue.Fence{Owner: l.p.cfg.WorkerID, Epoch: l.sess.Lease().Epoch}
}

// claimPause is how long a loop waits after a claim failed (Postgres
// trouble, usually); failures in a row double it, with jitter.
const (
	claimPause    = 250 * time.Millisecond
	maxClaimPause = 10 * time.Second
)

func (l *loop) run() {
	defer close(l.done)
	var err error
	for l.lim, err = l.limiter(); err != nil; l.lim, err = l.limiter() {
		if !retry.Sleep(l.ctx, claimPause) {
			return
		}
	}
	l.checked = time.Now()
	backoff := retry.Backoff{Min: claimPause, Max: maxClaimPause}
	for l.ctx.Err() == nil {
		if !l.sess.Usable() {
			// Not the end: leases in doubt (renewals held up, Postgres
			// failing over) become valid again, and a session whose lease
			// is lost or that ends is stopped, which cancels the loop.
			if !l.waitUsable() {
				return
			}
			continue
		}
		select { // a bell from now on means a claim after this one may find more
		case <-l.bell:
		default:
		}
		if !l.token() {
			return
		}
		lim := l.lim
		want := min(l.p.cfg.Window, 1+lim.available())
		jobs, err := l.p.store.Claim(l.ctx, l.tenant, l.fence(), want)
		if err != nil {
			lim.refund()
			if l.ctx.Err() != nil {
				return
			}
			pause := backoff.Next()
			l.log.WarnContext(l.ctx, "claim jobs failed", slog.String("error", err.Error()), slog.Duration("retry_in", pause))
			retry.Sleep(l.ctx, pause)
			continue
		}
		backoff.Reset()
		if len(jobs) == 0 {
			lim.refund()
			l.idle()
			continue
		}
		l.sendAll(jobs, lim)
		if len(jobs) < want {
			// that was all there was: what lands later rings the bell
			// (drained before the claim), so there is no need to look again
			l.idle()
		}
	}
}

// token waits until the rate limit lets one job go and takes its token,
// reading the tenant's limit again every LimitsEvery meanwhile, so that a
// change applies to a loop waiting for a distant token too. It returns
// false when the loop stops first.
func (l *loop) token() bool {
	for {
		if time.Since(l.checked) >= l.p.cfg.LimitsEvery {
			l.checked = time.Now()
			if next, err := l.limiter(); err == nil && !l.lim.is(next.perMinute(), next.burstSize()) {
				l.log.InfoContext(l.ctx, "send rate limit changed")
				l.lim = next
			}
		}
		d := l.lim.reserve(time.Now())
		if d <= 0 {
			return true
		}
		pause := min(d, l.p.cfg.LimitsEvery-time.Since(l.checked))
		if !retry.Sleep(l.ctx, pause) {
			return false
		}
		if pause >= d {
			return true
		}
		l.lim.refund() // read the limit again before waiting on
	}
}

// waitUsable waits until the session is usable again. It returns false
// when the loop stops first.
func (l *loop) waitUsable() bool {
	t := time.NewTicker(claimPause)
	defer t.Stop()
	for !l.sess.Usable() {
		select {
		case <-l.ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// idle waits for a bell, checking every FetchWait that the session is
// still usable.
func (l *loop) idle() {
	t := time.NewTicker(l.p.cfg.FetchWait)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.bell:
			return
		case <-t.C:
			if !l.sess.Usable() {
				return
			}
		}
	}
}

// sendAll sends claimed jobs in order. The first one's token is taken; the
// others' were available when they were claimed. Jobs not tried when the
// loop has to stop go back to queued.
func (l *loop) sendAll(jobs []*queue.Job, lim *limiter) {
	defer l.settle()
	for i, j := range jobs {
		if i > 0 {
			lim.take()
		}
		if l.ctx.Err() != nil || !l.sess.Usable() {
			l.requeue(jobs[i:])
			return
		}
		if !l.p.handle(l, j) {
			l.requeue(jobs[i+1:])
			return
		}
	}
}

// requeue hands jobs that were claimed but not tried back to the queue;
// if that fails they stay sending, and the next owner takes them first.
func (l *loop) requeue(jobs []*queue.Job) {
	if len(jobs) == 0 {
		return
	}
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), 5*time.Second)
	defer cancel()
	if err := l.p.store.Requeue(ctx, l.tenant, l.fence(), ids); err != nil && !errors.Is(err, queue.ErrFenced) {
		l.log.WarnContext(l.ctx, "hand claimed jobs back", slog.String("error", err.Error()))
	}
}

// limiter returns a token bucket for the tenant's rate limit: its
// override or the default.
func (l *loop) limiter() (*limiter, error) {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	rate, burst, err := tenant.SendLimits(ctx, l.p.pool, l.tenant)
	if err != nil {
		return nil, err
	}
	r, b := l.p.cfg.Rate, l.p.cfg.Burst
	if rate != nil {
		r = *rate
	}
	if burst != nil {
		b = *burst
	}
	return newLimiter(r, b), nil
}
