package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/session/wa"
)

// online waits for the connection's lifecycle events and control
// requests. A login that WhatsApp leaves unanswered for LoginTimeout ends
// the connection.
func (s *Session) online(ctx context.Context) step {
	var login <-chan time.Time
	if t := s.loginTimer(); t != nil {
		defer t.Stop()
		login = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return s.shutdown
		case <-login:
			return s.unresponsive(ctx, "login not answered within "+s.m.cfg.Liveness.LoginTimeout.String())
		case ce := <-s.events:
			if !s.current(ce) {
				continue
			}
			if next := s.onEvent(ctx, ce.ev); next != nil {
				return next
			}
			if s.State() != StateConnecting {
				login = nil
			}
		case req := <-s.requests:
			if next := s.onRequest(ctx, req); next != nil {
				return next
			}
		}
	}
}

// onEvent handles a lifecycle event; it returns the next step, or nil to
// stay online.
func (s *Session) onEvent(ctx context.Context, ev wa.Event) step {
	switch ev := ev.(type) {
	case wa.Connected:
		return s.loggedIn(ctx, ev.JID)
	case wa.Disconnected:
		return s.dropped(ctx, "disconnected: "+ev.Reason)
	case wa.ConnectFailure:
		if ev.Code == connectFailureClientOutdated {
			return s.outdated(ctx, ev)
		}
		return s.dropped(ctx, fmt.Sprintf("connect failure %d: %s", ev.Code, ev.Reason))
	case wa.KeepAliveTimeout:
		return s.keepAliveFailed(ctx, ev)
	case wa.LoggedOut:
		s.m.metrics.logouts.Inc()
		s.closeConn()
		return s.loggedOut(ctx, ev.Reason)
	case wa.StreamReplaced:
		return s.streamReplaced(ctx)
	case wa.TemporaryBan:
		return s.banned(ctx, ev)
	case wa.Restricted:
		s.restricted(ctx, ev.Reason)
	}
	return nil
}

func (s *Session) loggedIn(ctx context.Context, jid string) step {
	s.mu.Lock()
	s.jid = jid
	s.mu.Unlock()
	if !s.transition(ctx, change{state: StateConnected}) {
		return s.fenced
	}
	s.attempt = 0
	s.live.bans = 0
	s.notifyConnected()
	return nil
}

// connectFailureClientOutdated is WhatsApp's login failure for a client
// version it no longer accepts.
const connectFailureClientOutdated = 405

func (s *Session) dropped(ctx context.Context, reason string) step {
	s.dropConn()
	return s.backoff(errors.New(reason))
}

// loggedOut: WhatsApp removed the device. Its credentials are gone; no
// reconnect is attempted until someone pairs again.
func (s *Session) loggedOut(ctx context.Context, reason string) step {
	s.notifyDisconnected()
	s.m.deleteDevice(ctx, s.tenant)
	s.transition(ctx, change{state: StateLoggedOut, reason: reason, clearDevice: true})
	return s.end
}

// backoff records a disconnection and reconnects after a growing delay.
func (s *Session) backoff(err error) step {
	return func(ctx context.Context) step {
		s.attempt++
		if !s.transition(ctx, change{state: StateDisconnected, reason: err.Error()}) {
			return s.fenced
		}
		return s.wait(s.reconnectDelay(s.attempt), s.reconnect)(ctx)
	}
}

// wait idles for d, answering control requests, then goes to next.
func (s *Session) wait(d time.Duration, next step) step {
	return func(ctx context.Context) step {
		t := time.NewTimer(max(d, 0))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return s.shutdown
			case <-t.C:
				return next
			case ce := <-s.events:
				_ = ce // events of a closed conn
			case req := <-s.requests:
				if st := s.onRequest(ctx, req); st != nil {
					return st
				}
			}
		}
	}
}

// reconnect is start, counted as a reconnect.
func (s *Session) reconnect(ctx context.Context) step {
	s.m.metrics.reconnects.Inc()
	s.reconnecting = true
	return s.start
}

// idle is a tenant without a device: it waits for a pairing request and
// lets the lease go when none comes.
func (s *Session) idle(ctx context.Context) step {
	t := time.NewTimer(s.m.cfg.IdleTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return nil
		case req := <-s.requests:
			if st := s.onRequest(ctx, req); st != nil {
				return st
			}
		}
	}
}

// fenced: a newer owner exists; stop without writing anything.
func (s *Session) fenced(ctx context.Context) step {
	s.log.WarnContext(ctx, "lease lost: session stops")
	s.dropConn()
	return nil
}

// shutdown disconnects and records it while the lease is still ours.
func (s *Session) shutdown(ctx context.Context) step {
	s.dropConn()
	if s.m.keeper.Valid(s.lease) {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.transition(wctx, change{state: StateDisconnected, reason: s.releasedReason()})
	}
	return nil
}

// onRequest answers a control request in any state but pairing; it returns
// the next step, or nil to stay.
func (s *Session) onRequest(ctx context.Context, req *request) step {
	state := s.State()
	switch req.op {
	case ctl.OpPair, ctl.OpPairPhone:
		if state == StateUnpaired || state == StateLoggedOut || s.noDevice(ctx) {
			return s.pair(req)
		}
		if req.op == ctl.OpPairPhone {
			req.answer(ctl.Errorf(ctl.CodeAlreadyPaired, "tenant is already paired"))
			return nil
		}
		req.answer(ctl.Reply{State: state, JID: s.JID()})
	case ctl.OpLogout:
		return s.logout(ctx, req)
	case ctl.OpReconnect:
		if s.noDevice(ctx) {
			req.answer(ctl.Errorf(ctl.CodeNotPaired, "tenant is not paired"))
			return nil
		}
		req.answer(ctl.Reply{State: StateConnecting})
		s.dropConn()
		s.attempt = 0
		s.resume()
		return s.reconnect
	default:
		req.answer(ctl.Errorf(ctl.CodeInvalid, "unknown operation "+req.op))
	}
	return nil
}

// logout removes the device from WhatsApp (when connected) and deletes
// its credentials; the session ends.
func (s *Session) logout(ctx context.Context, req *request) step {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil && conn.IsConnected() {
		if err := conn.Logout(ctx); err != nil {
			s.log.WarnContext(ctx, "logout from whatsapp failed; credentials deleted anyway", slog.String("error", err.Error()))
		}
	}
	s.dropConn()
	s.m.deleteDevice(ctx, s.tenant)
	s.transition(ctx, change{state: StateLoggedOut, reason: "logged out on request", clearDevice: true})
	req.answer(ctl.Reply{State: StateLoggedOut})
	return s.end
}

// end finishes the session; its lease is let go.
func (s *Session) end(context.Context) step { return nil }

// JID returns the device's JID once known.
func (s *Session) JID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jid
}

func (s *Session) noDevice(ctx context.Context) bool {
	jid, err := s.m.deviceJID(ctx, s.tenant)
	return err == nil && jid == ""
}

func (s *Session) notifyConnected() {
	for _, l := range s.m.listeners {
		l.Connected(s.tenant, s)
	}
}

func (s *Session) notifyDisconnected() {
	for _, l := range s.m.listeners {
		l.Disconnected(s.tenant)
	}
}
