package send

import (
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/retry"
)

// commit records r in the ledger, retrying while Postgres is unavailable
// (the job's ack wait is extended meanwhile) and giving up when the lease
// is lost or the loop stops.
func (w *work) commit(r *record) error {
	r.tenant, r.epoch = w.l.tenant, w.l.sess.Lease().Epoch
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := w.p.ledger.commit(w.l.ctx, r)
		if err == nil || errors.Is(err, errFenced) || w.l.ctx.Err() != nil {
			return err
		}
		w.l.log.WarnContext(w.l.ctx, "ledger commit failed; retrying", slog.String("error", err.Error()))
		_ = w.msg.InProgress()
		if !retry.Sleep(w.l.ctx, backoff.Next()) {
			return err
		}
	}
}

// handBack returns the job to JetStream at once for whoever serves the
// tenant next (not connected, lease lost, Postgres down): it is not an
// attempt. The loop then hands back the jobs fetched after it, so the
// tenant's order holds.
func (w *work) handBack(err error) {
	w.back = true
	if nerr := w.msg.Nak(); nerr != nil {
		w.l.log.WarnContext(w.l.ctx, "nak job", slog.String("error", nerr.Error()))
	}
	if errors.Is(err, errFenced) {
		w.l.cancel()
	}
}

// retryAfter waits before the next attempt after a transient failure,
// keeping the job's ack wait from running out. It returns false when the
// loop stops or the session stops being usable meanwhile.
func (w *work) retryAfter(err error) bool {
	w.p.metrics.retries.Inc()
	delay := w.p.cfg.RetryDelay << min(w.attempt-1, 10)
	w.l.log.WarnContext(w.l.ctx, "send failed; will retry", slog.Int("attempt", w.attempt), slog.Duration("delay", delay), slog.String("error", err.Error()))
	deadline := time.Now().Add(delay)
	for step := w.p.cfg.AckWait / 3; ; {
		_ = w.msg.InProgress()
		left := time.Until(deadline)
		if left <= 0 {
			return w.l.sess.Usable()
		}
		if !retry.Sleep(w.l.ctx, min(left, step)) {
			return false
		}
	}
}

func (w *work) ack() {
	if err := w.msg.Ack(); err != nil {
		// the outcome is recorded: a redelivery only replays it
		w.l.log.WarnContext(w.l.ctx, "ack job", slog.String("error", err.Error()))
	}
}
