package session

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
)

// restrictedEvery is the least time between two session events that report
// a restriction: a backend that writes to many new numbers at once gets one
// event a minute, not one per refused message (each is counted).
const restrictedEvery = time.Minute

// recordRestricted keeps the restriction as the tenant's last error and
// writes its session event, fenced by the lease. The state does not change.
var recordRestricted = `WITH u AS (
	UPDATE wabus_tenant SET last_error = $4 WHERE id = $1 AND ` + fence + `
	RETURNING 1)
` + outbox.Insert(5, "EXISTS (SELECT 1 FROM u)")

// restricted reports WhatsApp's error 463 (wa.Restricted): a session event
// with the current state and the reason "restricted: <detail>". The
// session stays as it is: messages to known contacts still go, and the
// refused job has failed with code restricted.
func (s *Session) restricted(ctx context.Context, detail string) {
	s.m.metrics.restricted.Inc()
	now := time.Now()
	if !s.restrictedAt.IsZero() && now.Sub(s.restrictedAt) < restrictedEvery {
		return
	}
	s.restrictedAt = now
	reason := event.ReasonRestricted + ": " + detail
	s.mu.Lock()
	state, jid := s.state, s.jid
	s.mu.Unlock()
	ev, err := event.New(s.tenant, event.TypeSession, event.RandomID(), "", now, event.Session{
		State: state, JID: jid, Reason: reason, Worker: s.m.cfg.WorkerID,
	})
	msg, merr := outbox.Event(s.m.deps.Names.Event(s.tenant, bus.KindSession), ev)
	if err = errors.Join(err, merr); err != nil {
		s.log.ErrorContext(ctx, "build session event", slog.String("error", err.Error()))
		return
	}
	cols := outbox.Columns(msg)
	_, err = s.m.deps.Writer.Do(ctx, recordRestricted, s.tenant, s.m.cfg.WorkerID, s.lease.Epoch, reason,
		cols[0], cols[1], cols[2], cols[3])
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "restriction not recorded", slog.String("error", err.Error()))
		return
	}
	s.log.WarnContext(ctx, "whatsapp refuses messages to new contacts for now", slog.String("reason", reason))
}
