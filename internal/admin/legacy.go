package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/vocab"
)

// The old Node API's routes (CONTRACT's second table). Unlike /v1 they
// create an unknown tenant on first use (connect and the two send routes);
// status answers an unknown id without creating it, and delete of an
// unknown id succeeds.

// apiHealth answers GET /api/health.
func (s *Server) apiHealth(w http.ResponseWriter, _ *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// legacySession is a session in the old API's list.
type legacySession struct {
	ClientID  string `json:"clientId"`
	Connected bool   `json:"connected"`
	State     string `json:"state"`
}

// apiSessions answers GET /api/sessions.
func (s *Server) apiSessions(w http.ResponseWriter, r *http.Request, _ string) error {
	list, err := s.sessions(r.Context(), "")
	if err != nil {
		return err
	}
	out := make([]legacySession, 0, len(list))
	for _, v := range list {
		out = append(out, legacySession{ClientID: v.Tenant, Connected: v.State == vocab.StateConnected, State: v.State})
	}
	writeJSON(w, http.StatusOK, map[string][]legacySession{"sessions": out})
	return nil
}

// legacyStatus is the old API's status, plus the session fields.
type legacyStatus struct {
	ClientID  string `json:"clientId"`
	Connected bool   `json:"connected"`
	// SessionExistsOnDisk is true while the tenant has credentials.
	SessionExistsOnDisk bool `json:"session_exists_on_disk"`
	// AutoReconnecting is true while a paired tenant is connecting or
	// disconnected (it reconnects by itself with backoff).
	AutoReconnecting bool `json:"auto_reconnecting"`
	Session
}

// apiStatus answers GET /api/status/{id}. An unknown id answers an
// unpaired session with since null, and is not created.
func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request, tenant string) error {
	v, ok, err := s.session(r.Context(), tenant)
	if err != nil {
		return err
	}
	if !ok {
		v = Session{Tenant: tenant, State: vocab.StateUnpaired}
		s.fillPending(r.Context(), []Session{v}, tenant)
	}
	writeJSON(w, http.StatusOK, legacyStatus{
		ClientID:            tenant,
		Connected:           v.State == vocab.StateConnected,
		SessionExistsOnDisk: v.paired,
		AutoReconnecting:    v.paired && (v.State == vocab.StateConnecting || v.State == vocab.StateDisconnected),
		Session:             v,
	})
	return nil
}

// legacyConnect is the answer of GET /api/connect/{id}.
type legacyConnect struct {
	ClientID  string `json:"clientId"`
	Connected bool   `json:"connected"`
	State     string `json:"state"`
	QR        string `json:"qr,omitempty"`
	QRCode    string `json:"qr_code,omitempty"`
}

// apiConnect answers GET /api/connect/{id}: a tenant that is not paired
// starts pairing and gets the current QR code (waiting up to QRWait for
// the first); a paired one gets its state.
func (s *Server) apiConnect(w http.ResponseWriter, r *http.Request, tenant string) error {
	ctx := r.Context()
	if _, err := s.createTenant(ctx, tenant); err != nil {
		return err
	}
	watch, rep, err := s.beginPairing(ctx, tenant)
	if err != nil {
		return err
	}
	defer watch.stop()
	if paired(rep) {
		writeJSON(w, http.StatusOK, legacyConnect{ClientID: tenant, Connected: rep.State == vocab.StateConnected, State: rep.State})
		return nil
	}
	code, err := s.firstCode(ctx, watch, rep.QR)
	if errors.Is(err, errPaired) {
		writeJSON(w, http.StatusOK, legacyConnect{ClientID: tenant, Connected: true, State: vocab.StateConnected})
		return nil
	}
	if err != nil {
		return err
	}
	png, err := s.qrDataURL(code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, legacyConnect{ClientID: tenant, State: vocab.StatePairing, QR: png, QRCode: code})
	return nil
}

// errPaired is returned by firstCode when the pairing completed while it
// waited.
var errPaired = errors.New("paired")

// firstCode returns code, or waits up to QRWait for the first code.
func (s *Server) firstCode(ctx context.Context, watch *pairWatch, code string) (string, error) {
	if code != "" {
		return code, nil
	}
	timer := time.NewTimer(s.cfg.QRWait)
	defer timer.Stop()
	for {
		ev, ok := watch.next(ctx, timer.C)
		if !ok {
			return "", errorf(http.StatusServiceUnavailable, CodeTimeout, "no QR code within %s", s.cfg.QRWait)
		}
		switch ev.Event {
		case ctl.PairingQR:
			return ev.Code, nil
		case ctl.PairingPaired:
			return "", errPaired
		case ctl.PairingTimeout:
			return "", errorf(http.StatusServiceUnavailable, CodeTimeout, "pairing ended before a QR code was shown")
		}
	}
}

// apiDelete answers DELETE /api/delete/{id}: logs out, deletes;
// {"success": true}, also for an unknown id.
func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request, tenant string) error {
	_, err := s.removeTenant(r.Context(), tenant)
	if ae, ok := errors.AsType[*apiError](err); ok && ae.Code == CodeNotFound {
		err = nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	return nil
}
