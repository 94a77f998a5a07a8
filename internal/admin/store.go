package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/tenant"
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

// sessions reads the sessions of every tenant (tenant == "") or of one.
// It does not fill PendingJobs.
func (s *Server) sessions(ctx context.Context, id string) ([]Session, error) {
	rows, err := tenant.Statuses(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	out := make([]Session, len(rows))
	for i, r := range rows {
		since := r.Since.UTC()
		out[i] = Session{Tenant: r.ID, State: r.State, JID: r.JID, Worker: r.Worker, Since: &since,
			LastError: r.LastError, Reconnects: r.Reconnects, Paused: r.Paused,
			SendRate: r.SendRate, SendBurst: r.SendBurst, paired: r.Paired}
	}
	return out, nil
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

// mustExist returns a 404 *apiError for an unknown tenant.
func (s *Server) mustExist(ctx context.Context, id string) error {
	ok, err := tenant.Exists(ctx, s.pool, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(id)
	}
	return nil
}

// deviceJID returns the tenant's device JID ("" when not paired); ok is
// false for an unknown tenant.
func (s *Server) deviceJID(ctx context.Context, id string) (jid string, ok bool, err error) {
	return tenant.Device(ctx, s.pool, id)
}
