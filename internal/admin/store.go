package admin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/vocab"
)

// Session is a session as admin shows it (CONTRACT).
type Session struct {
	Tenant string `json:"tenant"`
	// State is the recorded state, except that a state a worker must be
	// busy with (pairing, connecting, connected) shows "disconnected" once
	// the owner's lease is missing or expired.
	State  string `json:"state"`
	JID    string `json:"jid"`
	Worker string `json:"worker"`
	// Since is when the state last changed; null only in the old API's
	// status of an unknown tenant.
	Since      *time.Time `json:"since"`
	LastError  string     `json:"last_error"`
	Reconnects int64      `json:"reconnects"`
	// PendingJobs is the number of the tenant's jobs waiting or being
	// sent, counted from the job table, or nil (JSON null) when it could
	// not be read.
	PendingJobs *uint64 `json:"pending_jobs"`
	// Paused is true while the tenant sends nothing (its jobs wait).
	Paused bool `json:"paused"`
	// SendRate and SendBurst are the tenant's own send rate limit
	// (messages a minute, 0 for none; burst), or nil where the workers'
	// defaults (WA_SEND_RATE, WA_SEND_BURST) apply.
	SendRate  *float64 `json:"send_rate"`
	SendBurst *int     `json:"send_burst"`

	paired bool // the tenant has credentials (device_jid)
}

// Session states that need a live owner.
var ownedStates = map[string]bool{vocab.StatePairing: true, vocab.StateConnecting: true, vocab.StateConnected: true}

const selectSessions = `SELECT t.id, t.state, t.jid, t.worker, t.since, t.last_error, t.reconnects,
	t.send_rate, t.send_burst, t.paused, t.device_jid IS NOT NULL, coalesce(l.expires_at >= now(), false)
FROM wabus_tenant t LEFT JOIN wabus_lease l ON l.tenant = t.id`

// sessions reads the sessions of every tenant (tenant == "") or of one.
// It does not fill PendingJobs.
func (s *Server) sessions(ctx context.Context, tenant string) ([]Session, error) {
	q, args := selectSessions+` ORDER BY t.id`, []any(nil)
	if tenant != "" {
		q, args = selectSessions+` WHERE t.id = $1`, []any{tenant}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query sessions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	return out, nil
}

func scanSession(row pgx.CollectableRow) (Session, error) {
	var v Session
	var live bool
	var since time.Time
	err := row.Scan(&v.Tenant, &v.State, &v.JID, &v.Worker, &since, &v.LastError, &v.Reconnects,
		&v.SendRate, &v.SendBurst, &v.Paused, &v.paired, &live)
	if ownedStates[v.State] && !live {
		v.State = vocab.StateDisconnected
	}
	since = since.UTC()
	v.Since = &since
	return v, err
}

// session returns one tenant's session with its pending jobs; ok is false
// for an unknown tenant.
func (s *Server) session(ctx context.Context, tenant string) (Session, bool, error) {
	list, err := s.sessions(ctx, tenant)
	if err != nil || len(list) == 0 {
		return Session{}, false, err
	}
	s.fillPending(ctx, list, tenant)
	return list[0], true, nil
}

// fillPending sets PendingJobs from the job table, for one tenant or
// ("") all of them. It leaves them nil when the count fails within 2s.
func (s *Server) fillPending(ctx context.Context, list []Session, tenant string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	counts, err := s.jobs.Pending(ctx, tenant)
	if err != nil {
		s.log.WarnContext(ctx, "count pending jobs", slog.String("error", err.Error()))
		return
	}
	for i := range list {
		n := counts[list[i].Tenant]
		list[i].PendingJobs = &n
	}
}

// createTenant creates id as unpaired; created is false when it existed
// already.
func (s *Server) createTenant(ctx context.Context, id string) (created bool, err error) {
	return tenant.Create(ctx, s.pool, id)
}

const tenantExists = `SELECT EXISTS (SELECT 1 FROM wabus_tenant WHERE id = $1)`

// mustExist returns a 404 *apiError for an unknown tenant.
func (s *Server) mustExist(ctx context.Context, tenant string) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, tenantExists, tenant).Scan(&ok); err != nil {
		return fmt.Errorf("look up tenant: %w", err)
	}
	if !ok {
		return notFound(tenant)
	}
	return nil
}

// deviceJID returns the tenant's device JID ("" when not paired); ok is
// false for an unknown tenant.
func (s *Server) deviceJID(ctx context.Context, id string) (jid string, ok bool, err error) {
	return tenant.Device(ctx, s.pool, id)
}
