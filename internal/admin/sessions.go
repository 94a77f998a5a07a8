package admin

import (
	"context"
	"net/http"

	"github.com/wabus/wabus/internal/ctl"
)

// listSessions answers GET /v1/sessions: {"sessions": [session, ...]}.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, _ string) error {
	list, err := s.sessions(r.Context(), "")
	if err != nil {
		return err
	}
	s.fillPending(r.Context(), list, "")
	if list == nil {
		list = []Session{}
	}
	writeJSON(w, http.StatusOK, map[string][]Session{"sessions": list})
	return nil
}

// getSession answers GET /v1/sessions/{tenant}.
func (s *Server) getSession(w http.ResponseWriter, r *http.Request, tenant string) error {
	return s.writeSession(r.Context(), w, http.StatusOK, tenant)
}

// writeSession answers tenant's session with status; 404 not_found when
// the tenant is not there (or was deleted in between).
func (s *Server) writeSession(ctx context.Context, w http.ResponseWriter, status int, tenant string) error {
	v, ok, err := s.session(ctx, tenant)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(tenant)
	}
	writeJSON(w, status, v)
	return nil
}

// putSession answers PUT /v1/sessions/{tenant}: the tenant is created as
// unpaired (201) or left as it is (200); both answer the session. An
// optional body sets the tenant's own send rate limit.
func (s *Server) putSession(w http.ResponseWriter, r *http.Request, tenant string) error {
	lim, err := parseLimits(r)
	if err != nil {
		return err
	}
	created, err := s.createTenant(r.Context(), tenant)
	if err != nil {
		return err
	}
	if err := lim.store(r.Context(), s, tenant); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return s.writeSession(r.Context(), w, status, tenant)
}

// deleted is the answer of DELETE /v1/sessions/{tenant}.
type deleted struct {
	Tenant    string `json:"tenant"`
	Deleted   bool   `json:"deleted"`
	LoggedOut bool   `json:"logged_out"`
}

// deleteSession answers DELETE /v1/sessions/{tenant}.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, tenant string) error {
	res, err := s.removeTenant(r.Context(), tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deleted{Tenant: tenant, Deleted: true, LoggedOut: res.LoggedOut})
	return nil
}

// reconnected is the answer of POST /v1/sessions/{tenant}/reconnect.
type reconnected struct {
	Tenant string `json:"tenant"`
	State  string `json:"state"`
}

// reconnect answers POST /v1/sessions/{tenant}/reconnect: the owner drops
// the connection and connects again at once (202).
func (s *Server) reconnect(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.mustExist(r.Context(), tenant); err != nil {
		return err
	}
	rep, err := s.control(r.Context(), tenant, ctl.OpReconnect, nil)
	if err != nil {
		return err
	}
	if err := ctlError(rep); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, reconnected{Tenant: tenant, State: rep.State})
	return nil
}
