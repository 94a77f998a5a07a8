package admin

import (
	"net/http"

	"github.com/wabus/wabus/internal/ctl"
)

// logoutSession answers POST /v1/sessions/{tenant}/logout: the owner logs
// the device out of WhatsApp and deletes its credentials, and the tenant
// stays, as logged_out, ready for a new pairing (DELETE removes the tenant
// as well). It answers the session; 409 not_paired for a tenant with no
// device.
func (s *Server) logoutSession(w http.ResponseWriter, r *http.Request, tenant string) error {
	ctx := r.Context()
	device, ok, err := s.deviceJID(ctx, tenant)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(tenant)
	}
	if device == "" {
		return errorf(http.StatusConflict, ctl.CodeNotPaired, "tenant %s has no paired device", tenant)
	}
	rep, err := s.control(ctx, tenant, ctl.OpLogout, nil)
	if err != nil {
		return err
	}
	if err := ctlError(rep); err != nil {
		return err
	}
	return s.writeSession(ctx, w, http.StatusOK, tenant)
}
