package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/vocab"
)

// change is one state transition of a session.
type change struct {
	state       string
	reason      string
	banExpires  time.Time
	clearDevice bool
}

// transition records c in wabus_tenant and as a session event, in one
// statement fenced by the lease. It returns false when a newer owner
// exists. A database error is logged and the write tried again after a
// growing delay, while the lease is valid and ctx lasts; once the lease
// is no longer valid it returns false too.
func (s *Session) transition(ctx context.Context, c change) bool {
	s.mu.Lock()
	s.state = c.state
	jid := s.jid
	if c.clearDevice {
		s.jid = ""
	}
	s.mu.Unlock()
	s.m.metrics.transitions.WithLabelValues(c.state).Inc()
	st := tenant.State{State: c.state, JID: jid, Reason: c.reason, ClearDevice: c.clearDevice}
	if c.state == StateConnecting && s.reconnecting {
		st.Reconnect, s.reconnecting = true, false
	}
	if !c.banExpires.IsZero() {
		st.BanExpires = &c.banExpires
	}
	ev, err := event.New(s.tenant, vocab.EventSession, event.RandomID(), "", time.Now(), event.Session{
		State: c.state, JID: jid, Reason: c.reason, Worker: s.m.cfg.WorkerID,
	})
	msg, merr := outbox.Event(s.m.deps.Names.Event(s.tenant, vocab.EventSession), ev)
	if err = errors.Join(err, merr); err != nil {
		s.log.ErrorContext(ctx, "build session event", slog.String("error", err.Error()))
		return true
	}
	sql, args := tenant.RecordState(s.lease, s.m.cfg.WorkerID, st, msg)
	write := func() (int64, error) { return s.m.deps.Writer.Do(ctx, sql, args...) }
	if c.state == StateLoggedOut {
		write = func() (int64, error) { return s.loggedOutWrite(ctx, c.reason, sql, args) }
	}
	rows, err := s.retryWrite(ctx, c.state, write)
	switch {
	case err != nil:
		return ctx.Err() != nil // ended: the next owner records its own state
	case rows == 0:
		return false
	}
	s.log.InfoContext(ctx, "session state", slog.String("state", c.state), slog.String("reason", c.reason))
	return true
}

// loggedOutWrite writes the logged_out state (sql with args) and,
// when the fence holds, fails the tenant's waiting jobs and the one being
// sent with code logged_out, in one transaction: nobody can send them
// until the tenant is paired again.
func (s *Session) loggedOutWrite(ctx context.Context, reason, sql string, args []any) (int64, error) {
	var rows int64
	err := s.m.deps.Writer.Tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		if rows = tag.RowsAffected(); err != nil || rows == 0 {
			return err
		}
		_, err = s.m.jobs.FailTenant(ctx, tx, s.tenant, event.CodeLoggedOut, "the device was logged out: "+reason)
		return err
	})
	return rows, err
}

// stateRetry paces the retries of a state write that failed.
var stateRetry = retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}

// retryWrite runs write until it succeeds, ctx ends or the lease is no
// longer valid; it returns write's last result.
func (s *Session) retryWrite(ctx context.Context, state string, write func() (int64, error)) (int64, error) {
	b := stateRetry
	for {
		rows, err := write()
		if err == nil || ctx.Err() != nil {
			return rows, err
		}
		s.log.WarnContext(ctx, "session state not recorded", slog.String("state", state), slog.String("error", err.Error()))
		if !s.m.keeper.Valid(s.lease) || !retry.Sleep(ctx, b.Next()) {
			return rows, err
		}
	}
}

// errLeaseLost is returned by setDevice when the lease was lost.
var errLeaseLost = errors.New("lease lost")

// setDevice records the paired device of s's tenant. It returns
// errLeaseLost when the lease was lost, and the database's error.
func (m *Manager) setDevice(ctx context.Context, s *Session, jid string) error {
	sql, args := tenant.SetDevice(s.lease, m.cfg.WorkerID, jid)
	tag, err := m.deps.Pool.Exec(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("record paired device: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return errLeaseLost
	}
	return nil
}

// deviceJID returns the tenant's paired device JID, or "".
func (m *Manager) deviceJID(ctx context.Context, id string) (string, error) {
	jid, _, err := tenant.Device(ctx, m.deps.Pool, id)
	return jid, err
}

// loadDevice returns the stored device for jid, or nil when it is gone.
func (m *Manager) loadDevice(ctx context.Context, jid string) (wa.Device, error) {
	dev, err := m.deps.Store.Device(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("load device: %w", err)
	}
	return dev, nil
}

// deleteDevice removes the tenant's credentials from the device store, if
// any are left (the driver usually did it already).
func (m *Manager) deleteDevice(ctx context.Context, tenant string) {
	jid, err := m.deviceJID(ctx, tenant)
	if err != nil || jid == "" {
		return
	}
	m.deleteDeviceJID(ctx, tenant, jid)
}

// deleteDeviceJID removes the credentials of device jid, and all the
// device store keeps of it.
func (m *Manager) deleteDeviceJID(ctx context.Context, tenant, jid string) {
	err := pgx.BeginFunc(ctx, m.deps.Pool, func(tx pgx.Tx) error {
		return m.deps.Store.DeleteDevices(ctx, tx, []string{jid})
	})
	if err != nil {
		m.log.WarnContext(ctx, "delete credentials failed", slog.String("tenant", tenant), slog.String("error", err.Error()))
	}
}
