package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/session/wa"
)

// pair links a new device: it shows QR codes (published for admin's live
// stream) until the phone scans one, or asks for a phone pairing code.
func (s *Session) pair(first *request) step {
	return func(ctx context.Context) step {
		dev := s.m.deps.Store.NewDevice()
		conn, err := s.open(dev)
		if err != nil {
			first.answer(ctl.Errorf(ctl.CodeUnavailable, "open connection: "+err.Error()))
			return s.end
		}
		qrs, err := conn.PairQR(ctx)
		if err == nil {
			err = conn.Connect(ctx)
		}
		if err != nil {
			s.closeConn()
			first.answer(ctl.Errorf(ctl.CodeUnavailable, "start pairing: "+err.Error()))
			return s.end
		}
		if !s.transition(ctx, change{state: StatePairing}) {
			first.answer(ctl.Errorf(ctl.CodeUnavailable, "lease lost"))
			return s.fenced
		}
		p := &pairing{s: s, conn: conn, qrs: qrs, waiting: []*request{first}}
		return p.loop(ctx)
	}
}

// pairing is the state of one pairing attempt.
type pairing struct {
	s       *Session
	conn    wa.Conn
	qrs     <-chan wa.QREvent
	waiting []*request // answered when the first code arrives
	paired  bool
}

func (p *pairing) loop(ctx context.Context) step {
	s := p.s
	for {
		select {
		case <-ctx.Done():
			p.failWaiting(ctl.CodeUnavailable, "worker stopping")
			s.publishPairing(ctl.PairingEvent{Event: ctl.PairingTimeout})
			return s.shutdown
		case q, ok := <-p.qrs:
			if next := p.onQR(ctx, q, ok); next != nil {
				return next
			}
		case ce := <-s.events:
			if !s.current(ce) {
				continue
			}
			if next := p.onEvent(ctx, ce.ev); next != nil {
				return next
			}
		case req := <-s.requests:
			p.onRequest(ctx, req)
		}
	}
}

func (p *pairing) onQR(ctx context.Context, q wa.QREvent, ok bool) step {
	s := p.s
	if !ok {
		p.qrs = nil // closed: the outcome comes as events
		if !p.paired {
			return p.abort(ctx, "pairing ended")
		}
		return nil
	}
	switch q.Event {
	case "code":
		s.mu.Lock()
		s.qr = q
		s.mu.Unlock()
		s.publishPairing(ctl.PairingEvent{Event: ctl.PairingQR, Code: q.Code, ExpiresIn: seconds(q.Timeout)})
		for _, r := range p.waiting {
			p.answerWithCode(ctx, r)
		}
		p.waiting = nil
	case "success":
		p.paired = true
	case "timeout", "error":
		if p.paired {
			return nil
		}
		reason := "no QR code was scanned in time"
		if q.Err != nil {
			reason = "pairing failed: " + q.Err.Error()
		}
		return p.abort(ctx, reason)
	}
	return nil
}

func (p *pairing) onEvent(ctx context.Context, ev wa.Event) step {
	s := p.s
	switch ev := ev.(type) {
	case wa.PairSuccess:
		p.paired = true
		s.mu.Lock()
		s.jid = ev.JID
		s.qr = wa.QREvent{}
		s.mu.Unlock()
		if !s.m.setDevice(ctx, s, ev.JID) {
			p.discard(ctx, ev.JID)
			return s.fenced
		}
	case wa.Connected:
		// recorded first, so that whoever sees "paired" finds the tenant connected
		next := s.loggedIn(ctx, ev.JID)
		s.publishPairing(ctl.PairingEvent{Event: ctl.PairingState, State: StateConnected})
		s.publishPairing(ctl.PairingEvent{Event: ctl.PairingPaired, JID: ev.JID})
		if next != nil {
			return next
		}
		return s.online
	case wa.Disconnected, wa.ConnectFailure, wa.LoggedOut, wa.StreamReplaced, wa.TemporaryBan:
		if p.paired {
			if next := s.onEvent(ctx, ev); next != nil {
				return next
			}
			return s.online
		}
		return p.abort(ctx, "connection lost while pairing")
	}
	return nil
}

func (p *pairing) onRequest(ctx context.Context, req *request) {
	switch req.op {
	case ctl.OpPair, ctl.OpPairPhone:
		p.s.mu.Lock()
		has := p.s.qr.Code != ""
		p.s.mu.Unlock()
		if has {
			p.answerWithCode(ctx, req)
		} else {
			p.waiting = append(p.waiting, req)
		}
	case ctl.OpLogout, ctl.OpReconnect:
		req.answer(ctl.Errorf(ctl.CodeNotPaired, "pairing in progress; it ends by itself or when the code expires"))
	default:
		req.answer(ctl.Errorf(ctl.CodeInvalid, "unknown operation "+req.op))
	}
}

// answerWithCode answers pair with the current QR code, and pair-phone
// with a phone pairing code.
func (p *pairing) answerWithCode(ctx context.Context, req *request) {
	s := p.s
	if req.op == ctl.OpPairPhone {
		code, err := p.conn.PairPhone(ctx, req.phone)
		switch {
		case errors.Is(err, wa.ErrInvalidPhone):
			req.answer(ctl.Errorf(ctl.CodeInvalidPhone, err.Error()))
		case err != nil:
			req.answer(ctl.Errorf(ctl.CodeUnavailable, "phone pairing: "+err.Error()))
		default:
			req.answer(ctl.Reply{State: StatePairing, PairCode: code})
		}
		return
	}
	s.mu.Lock()
	q := s.qr
	s.mu.Unlock()
	req.answer(ctl.Reply{State: StatePairing, QR: q.Code, ExpiresIn: seconds(q.Timeout)})
}

func (p *pairing) abort(ctx context.Context, reason string) step {
	s := p.s
	s.closeConn()
	s.mu.Lock()
	s.qr = wa.QREvent{}
	s.mu.Unlock()
	p.failWaiting(ctl.CodeTimeout, reason)
	s.publishPairing(ctl.PairingEvent{Event: ctl.PairingTimeout})
	s.transition(ctx, change{state: StateUnpaired, reason: reason})
	return s.end
}

// discard removes a device paired for a tenant this worker no longer holds
// (deleted meanwhile, or taken over): nobody could ever use it, so it is
// logged out from WhatsApp (the phone drops it) and its credentials are
// deleted rather than left behind.
func (p *pairing) discard(ctx context.Context, jid string) {
	s := p.s
	s.log.WarnContext(ctx, "paired a device for a tenant this worker no longer holds; removing it", slog.String("jid", jid))
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.conn.Logout(lctx); err != nil {
		s.log.WarnContext(ctx, "logout of the discarded device failed; deleting its credentials", slog.String("error", err.Error()))
	}
	s.m.deleteDeviceJID(lctx, s.tenant, jid)
}

func (p *pairing) failWaiting(code, msg string) {
	for _, r := range p.waiting {
		r.answer(ctl.Errorf(code, msg))
	}
	p.waiting = nil
}

// CurrentQR returns the QR code shown while pairing, if any.
func (s *Session) CurrentQR() wa.QREvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qr
}

func (s *Session) publishPairing(ev ctl.PairingEvent) {
	b, _ := json.Marshal(ev)
	if err := s.m.deps.NATS.Publish(s.m.deps.Names.Pairing(s.tenant), b); err != nil {
		s.log.Warn("publish pairing event failed", slog.String("error", err.Error()))
	}
}

func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
