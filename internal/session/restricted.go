package session

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/vocab"
)

// restrictedEvery is the least time between two session events that report
// a restriction: a backend that writes to many new numbers at once gets one
// event a minute, not one per refused message (each is counted).
const restrictedEvery = time.Minute

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
	ev, err := event.New(s.tenant, vocab.EventSession, event.RandomID(), "", now, event.Session{
		State: state, JID: jid, Reason: reason, Worker: s.m.cfg.WorkerID,
	})
	msg, merr := outbox.Event(s.m.deps.Names.Event(s.tenant, vocab.EventSession), ev)
	if err = errors.Join(err, merr); err != nil {
		s.log.ErrorContext(ctx, "build session event", slog.String("error", err.Error()))
		return
	}
	// the restriction is kept as the tenant's last error, with its event,
	// fenced by the lease; the state does not change
	sql, args := tenant.RecordError(s.lease, s.m.cfg.WorkerID, reason, msg)
	_, err = s.m.deps.Writer.Do(ctx, sql, args...)
	if err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "restriction not recorded", slog.String("error", err.Error()))
		return
	}
	s.log.WarnContext(ctx, "whatsapp refuses messages to new contacts for now", slog.String("reason", reason))
}
