package send

import (
	"errors"
	"log/slog"
	"time"
)

// commit records r in the ledger, retrying while Postgres is unavailable
// (the job's ack wait is extended meanwhile) and giving up when the lease
// is lost or the loop stops.
func (w *work) commit(r *record) error {
	r.tenant, r.epoch = w.l.tenant, w.l.sess.Lease().Epoch
	delay := 100 * time.Millisecond
	for {
		err := w.p.ledger.commit(w.l.ctx, r)
		if err == nil || errors.Is(err, errFenced) || w.l.ctx.Err() != nil {
			return err
		}
		w.l.log.WarnContext(w.l.ctx, "ledger commit failed; retrying", slog.String("error", err.Error()))
		_ = w.msg.InProgress()
		if !sleep(w.l.ctx, delay) {
			return err
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// again hands the job back to JetStream. A transient send failure counts
// as an attempt and comes back after a growing delay (nothing else of the
// tenant is delivered meanwhile: one job in flight); past MaxAttempts the
// job fails with send_failed. Anything else (not connected, lease lost,
// Postgres down) comes back at once for whoever serves the tenant next.
func (w *work) again(err error, attempt bool) {
	n := int(w.meta.NumDelivered)
	if attempt && n >= w.p.cfg.MaxAttempts {
		w.fail(w.exhausted(err))
		return
	}
	if !attempt {
		if nerr := w.msg.Nak(); nerr != nil {
			w.l.log.WarnContext(w.l.ctx, "nak job", slog.String("error", nerr.Error()))
		}
		if errors.Is(err, errFenced) || !w.l.sess.Usable() {
			w.l.cancel()
		}
		return
	}
	w.p.metrics.retries.Inc()
	delay := w.p.cfg.RetryDelay << min(n-1, 10)
	w.l.log.WarnContext(w.l.ctx, "send failed; will retry", slog.Int("attempt", n), slog.Duration("delay", delay), slog.String("error", err.Error()))
	if nerr := w.msg.NakWithDelay(delay); nerr != nil {
		w.l.log.WarnContext(w.l.ctx, "nak job", slog.String("error", nerr.Error()))
	}
}

func (w *work) ack() {
	if err := w.msg.Ack(); err != nil {
		// the outcome is recorded: a redelivery only replays it
		w.l.log.WarnContext(w.l.ctx, "ack job", slog.String("error", err.Error()))
	}
}
