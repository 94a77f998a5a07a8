package send

import (
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/retry"
)

// record commits a job's outcome in the background while the loop sends
// the next claimed job: the sends stay one at a time and in order, but a
// tenant does not wait for a commit per job. Outcomes that come while a
// commit is in flight are committed together in the next one. The loop
// waits for every outcome before it claims again (settle). done runs once
// the outcome is durable. Postgres being unavailable is retried; if the
// lease is lost the loop stops, and the jobs, still sending, are sent
// again by the next owner under the same message ids.
func (l *loop) record(row *queue.Job, o queue.Outcome, done func()) {
	l.recMu.Lock()
	defer l.recMu.Unlock()
	l.recs = append(l.recs, recorded{Done: queue.Done{Job: row, Outcome: o}, done: done})
	if !l.flushing {
		l.flushing = true
		l.pending.Go(l.flush)
	}
}

// recorded is an outcome waiting for its commit.
type recorded struct {
	queue.Done
	done func()
}

// flush commits the outcomes recorded until none is left.
func (l *loop) flush() {
	for {
		l.recMu.Lock()
		batch := l.recs
		l.recs = nil
		if len(batch) == 0 {
			l.flushing = false
		}
		l.recMu.Unlock()
		if len(batch) == 0 {
			return
		}
		if l.commit(batch) {
			for _, r := range batch {
				r.done()
			}
		}
	}
}

// commit records a batch of outcomes, retrying while Postgres is
// unavailable. It reports whether they were recorded.
func (l *loop) commit(batch []recorded) bool {
	done := make([]queue.Done, len(batch))
	for i, r := range batch {
		done[i] = r.Done
	}
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := l.p.store.FinishAll(l.ctx, l.fence(), l.tenant, done)
		switch {
		case err == nil:
			return true
		case errors.Is(err, queue.ErrFenced):
			l.cancel()
			return false
		case l.ctx.Err() != nil:
			return false
		}
		l.log.WarnContext(l.ctx, "recording outcomes failed; retrying", slog.String("error", err.Error()))
		if !retry.Sleep(l.ctx, backoff.Next()) {
			return false
		}
	}
}

// settle waits for the outcomes being recorded.
func (l *loop) settle() { l.pending.Wait() }

// handBack leaves the job to whoever serves the tenant next (not
// connected, lease lost, Postgres down, loop stopped): it is not an
// attempt. It stays sending, so the next owner sends it first, under the
// same message id. The loop then hands back the jobs claimed after it.
func (w *work) handBack(err error) {
	w.back = true
	if errors.Is(err, queue.ErrFenced) {
		w.l.cancel()
	}
}

// retryAfter waits before the next attempt after a transient failure. It
// returns false when the loop stops or the session stops being usable
// meanwhile.
func (w *work) retryAfter(err error) bool {
	w.p.metrics.retries.Inc()
	delay := w.p.cfg.RetryDelay << min(w.attempt-1, 10)
	w.l.log.WarnContext(w.l.ctx, "send failed; will retry", slog.Int("attempt", w.attempt), slog.Duration("delay", delay), slog.String("error", err.Error()))
	if !retry.Sleep(w.l.ctx, delay) {
		return false
	}
	return w.l.sess.Usable()
}
