package session

import (
	"context"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/lease"
)

// Runs reports whether a session of tenant runs on this worker.
func (m *Manager) Runs(tenant string) bool { return m.session(tenant) != nil }

// Ask has tenant's session on this worker carry out the control operation
// op and returns its reply, once the session answered or ctx ended; ok is
// false when no session of tenant runs here.
func (m *Manager) Ask(ctx context.Context, tenant, op string, req ctl.Request) (rep ctl.Reply, ok bool) {
	s := m.session(tenant)
	if s == nil {
		return ctl.Reply{}, false
	}
	return s.ask(ctx, newRequest(op, req.Phone)), true
}

// Keeper is the lease keeper of this worker's tenants, for the control
// router that acquires a tenant on demand and finds another's owner.
func (m *Manager) Keeper() *lease.Keeper { return m.keeper }
