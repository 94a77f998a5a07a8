package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/qrcode"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/vocab"
)

// pairWatch receives the pairing events the owner publishes for a tenant.
// It is made before pairing is asked for, so no event is missed.
type pairWatch struct {
	sub *nats.Subscription
	ch  chan *nats.Msg
}

func (s *Server) watchPairing(tenant string) (*pairWatch, error) {
	ch := make(chan *nats.Msg, 64)
	sub, err := s.nc.ChanSubscribe(s.names.Pairing(tenant), ch)
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "subscribe to pairing events: %v", err)
	}
	return &pairWatch{sub: sub, ch: ch}, nil
}

func (p *pairWatch) stop() { _ = p.sub.Unsubscribe() }

// next returns the next pairing event; ok is false when ctx ended or
// timeout (if set) fired first.
func (p *pairWatch) next(ctx context.Context, timeout <-chan time.Time) (ctl.PairingEvent, bool) {
	for {
		select {
		case <-ctx.Done():
			return ctl.PairingEvent{}, false
		case <-timeout:
			return ctl.PairingEvent{}, false
		case m := <-p.ch:
			var ev ctl.PairingEvent
			if json.Unmarshal(m.Data, &ev) == nil {
				return ev, true
			}
		}
	}
}

// beginPairing watches tenant's pairing events, then asks the owner to
// pair it (see startPairing): in that order, so no event the pairing
// publishes after the reply is missed. The caller stops the watch; on an
// error there is none to stop.
func (s *Server) beginPairing(ctx context.Context, tenant string) (*pairWatch, ctl.Reply, error) {
	watch, err := s.watchPairing(tenant)
	if err != nil {
		return nil, ctl.Reply{}, err
	}
	rep, err := s.startPairing(ctx, tenant)
	if err != nil {
		watch.stop()
		return nil, ctl.Reply{}, err
	}
	return watch, rep, nil
}

// startPairing asks the owner to pair tenant. The reply carries the current
// QR code, or the state and JID of a tenant that is paired already, or
// neither when the first code is not there yet (the owner answered
// timeout; the code comes as a pairing event). Other control errors are
// returned as *apiError.
func (s *Server) startPairing(ctx context.Context, tenant string) (ctl.Reply, error) {
	rep, err := s.control(ctx, tenant, ctl.OpPair, nil)
	if err != nil {
		return ctl.Reply{}, err
	}
	if rep.Code == ctl.CodeTimeout {
		return ctl.Reply{State: vocab.StatePairing}, nil
	}
	if err := ctlError(rep); err != nil {
		return ctl.Reply{}, err
	}
	if rep.QR == "" && rep.State != vocab.StatePairing && rep.JID == "" {
		rep.JID = s.knownJID(ctx, tenant)
	}
	return rep, nil
}

// paired reports whether a pair reply says the tenant is paired already.
func paired(rep ctl.Reply) bool { return rep.QR == "" && rep.State != vocab.StatePairing }

// knownJID returns the tenant's recorded JID, or "" (also when it cannot
// be read: the reply is complete without it).
func (s *Server) knownJID(ctx context.Context, id string) string {
	jid, _ := tenant.KnownJID(ctx, s.pool, id)
	return jid
}

// qrDataURL renders code as a PNG data URL.
func (s *Server) qrDataURL(code string) (string, error) {
	png, err := qrcode.PNG(code, s.cfg.QRScale)
	if err != nil {
		return "", fmt.Errorf("render qr code: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// phoneRequest is the body of POST /v1/sessions/{tenant}/pair-phone.
type phoneRequest struct {
	Phone string `json:"phone"`
}

// pairPhone answers POST /v1/sessions/{tenant}/pair-phone with the phone
// pairing code the user types on the phone: {"code": "ABCD-EFGH"}.
func (s *Server) pairPhone(w http.ResponseWriter, r *http.Request, tenant string) error {
	var body phoneRequest
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	phone := strings.TrimSpace(body.Phone)
	if phone == "" {
		return errorf(http.StatusBadRequest, ctl.CodeInvalidPhone, "phone is required")
	}
	if err := s.mustExist(r.Context(), tenant); err != nil {
		return err
	}
	code, err := s.pairCode(r.Context(), tenant, phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
	return nil
}

// pairCode asks the owner for a phone pairing code, waiting up to
// PairPhoneWait in all. The owner answers within 20s; when it could not
// (it answers timeout, the code still coming), the request is repeated
// while time is left, and the repeat gets the same code: the owner mints
// one code per pairing and phone.
func (s *Server) pairCode(ctx context.Context, tenant, phone string) (string, error) {
	deadline := time.Now().Add(s.cfg.PairPhoneWait)
	for {
		rep, err := s.controlWithin(ctx, time.Until(deadline), tenant, ctl.OpPairPhone, &ctl.Request{Phone: phone})
		if err != nil {
			return "", err
		}
		if rep.Code == ctl.CodeTimeout && time.Until(deadline) > time.Second {
			continue
		}
		if err := ctlError(rep); err != nil {
			return "", err
		}
		if rep.PairCode == "" {
			return "", errorf(http.StatusBadGateway, CodeUnavailable, "the worker answered without a pairing code")
		}
		return rep.PairCode, nil
	}
}
