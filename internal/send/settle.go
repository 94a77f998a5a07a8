package send

import (
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/retry"
)

// commit records the job's outcome, retrying while Postgres is unavailable
// and giving up when the lease is lost or the loop stops.
func (w *work) commit(o queue.Outcome) error {
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := w.p.store.Finish(w.l.ctx, w.l.fence(), w.row, o)
		if err == nil || errors.Is(err, queue.ErrFenced) || w.l.ctx.Err() != nil {
			return err
		}
		w.l.log.WarnContext(w.l.ctx, "recording an outcome failed; retrying", slog.String("error", err.Error()))
		if !retry.Sleep(w.l.ctx, backoff.Next()) {
			return err
		}
	}
}

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
