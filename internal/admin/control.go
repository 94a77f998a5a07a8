package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/ctl"
)

// control sends a control request for tenant to the worker that owns it
// (any worker takes it and forwards it) and returns the reply, within
// CtlWait. A reply with an error code is returned as it is, nil error: the
// caller decides which codes it can live with (see ctlError). It returns a
// 503 *apiError with code unavailable when no worker is running and
// timeout when none answered in time.
func (s *Server) control(ctx context.Context, tenant, op string, req *ctl.Request) (ctl.Reply, error) {
	return s.controlWithin(ctx, s.cfg.CtlWait, tenant, op, req)
}

// controlWithin is control with wait instead of CtlWait.
func (s *Server) controlWithin(ctx context.Context, wait time.Duration, tenant, op string, req *ctl.Request) (ctl.Reply, error) {
	var body []byte
	if req != nil {
		body, _ = json.Marshal(req)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	msg, err := s.nc.RequestWithContext(ctx, s.names.Ctl(tenant, op), body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return ctl.Reply{}, errorf(http.StatusServiceUnavailable, CodeUnavailable, "no worker is running")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return ctl.Reply{}, errorf(http.StatusServiceUnavailable, CodeTimeout, "no worker answered %s in time", op)
	case errors.Is(err, context.Canceled):
		return ctl.Reply{}, fmt.Errorf("control %s: %w", op, err)
	case err != nil:
		return ctl.Reply{}, errorf(http.StatusServiceUnavailable, CodeUnavailable, "control %s: %v", op, err)
	}
	var rep ctl.Reply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return ctl.Reply{}, fmt.Errorf("decode %s reply: %w", op, err)
	}
	return rep, nil
}

// ctlStatus maps the control protocol's error codes to HTTP.
var ctlStatus = map[string]int{
	ctl.CodeNotFound:      http.StatusNotFound,
	ctl.CodeInvalidPhone:  http.StatusBadRequest,
	ctl.CodeInvalid:       http.StatusBadRequest,
	ctl.CodeAlreadyPaired: http.StatusConflict,
	ctl.CodeNotPaired:     http.StatusConflict,
	ctl.CodeNotPairing:    http.StatusConflict,
	ctl.CodeTimeout:       http.StatusServiceUnavailable,
	ctl.CodeUnavailable:   http.StatusServiceUnavailable,
	ctl.CodeInternal:      http.StatusInternalServerError,
}

// ctlError returns the *apiError of a reply with an error code, or nil.
// The code is passed through; an unknown one is a 502.
func ctlError(rep ctl.Reply) error {
	if rep.Code == "" {
		return nil
	}
	status, ok := ctlStatus[rep.Code]
	if !ok {
		status = http.StatusBadGateway
	}
	msg := rep.Error
	if msg == "" {
		msg = rep.Code
	}
	return &apiError{Status: status, Code: rep.Code, Msg: msg}
}
