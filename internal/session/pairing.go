package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/retry"
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
		p := &pairing{s: s, conn: conn, qrs: qrs, waiting: []*request{first}, minted: make(chan phoneCode, 1)}
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

	// Phone pairing codes. One pair-phone request mints one code: the
	// driver's PairPhone runs on its own goroutine (it may wait for the
	// socket, and WhatsApp pushes a notification to the phone for every
	// code), requests for the same phone meanwhile wait for its code, and
	// later ones get the same code for as long as this pairing lasts (it
	// is registered on this socket), instead of a new code and push.
	code    phoneCode  // the last code minted
	minting *phoneMint // the code being minted, if any
	minted  chan phoneCode
	mintCtx context.Context // ends when the pairing does
	mintWG  sync.WaitGroup
}

// phoneCode is a phone pairing code minted for phone, or the error.
type phoneCode struct {
	phone, code string
	err         error
}

// phoneMint is a PairPhone in progress and the requests waiting for it.
type phoneMint struct {
	phone   string
	waiters []*request
}

func (p *pairing) loop(ctx context.Context) step {
	mintCtx, stopMint := context.WithCancel(ctx)
	p.mintCtx = mintCtx
	defer func() {
		stopMint() // a PairPhone in progress returns
		p.mintWG.Wait()
	}()
	s := p.s
	for {
		select {
		case c := <-p.minted:
			p.onMinted(c)
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
		if err := s.m.setDevice(ctx, s, ev.JID); err != nil {
			p.discard(ctx, ev.JID, err)
			if errors.Is(err, errLeaseLost) {
				return s.fenced
			}
			return p.abort(ctx, err.Error())
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
		p.phoneCode(req)
		return
	}
	s.mu.Lock()
	q := s.qr
	s.mu.Unlock()
	req.answer(ctl.Reply{State: StatePairing, QR: q.Code, ExpiresIn: seconds(q.Timeout)})
}

// phoneCode answers a pair-phone request with the code for its phone: the
// one minted already, or the one being minted, or a new one.
func (p *pairing) phoneCode(req *request) {
	switch {
	case p.code.code != "" && samePhone(p.code.phone, req.phone):
		req.answer(ctl.Reply{State: StatePairing, PairCode: p.code.code})
	case p.minting != nil && samePhone(p.minting.phone, req.phone):
		p.minting.waiters = append(p.minting.waiters, req)
	case p.minting != nil:
		req.answer(ctl.Errorf(ctl.CodeUnavailable, "a pairing code for another number is being requested; try again"))
	default:
		p.minting = &phoneMint{phone: req.phone, waiters: []*request{req}}
		ctx, conn, phone := p.mintCtx, p.conn, req.phone
		p.mintWG.Go(func() {
			code, err := conn.PairPhone(ctx, phone)
			p.minted <- phoneCode{phone: phone, code: code, err: err}
		})
	}
}

// samePhone compares E.164 numbers written with or without "+".
func samePhone(a, b string) bool {
	return strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+")
}

// onMinted answers the requests waiting for a phone code, and keeps the
// code for the requests to come.
func (p *pairing) onMinted(c phoneCode) {
	m := p.minting
	if m == nil {
		return
	}
	p.minting = nil
	var rep ctl.Reply
	switch {
	case errors.Is(c.err, wa.ErrInvalidPhone):
		rep = ctl.Errorf(ctl.CodeInvalidPhone, c.err.Error())
	case c.err != nil:
		rep = ctl.Errorf(ctl.CodeUnavailable, "phone pairing: "+c.err.Error())
	default:
		p.code = c
		rep = ctl.Reply{State: StatePairing, PairCode: c.code}
	}
	for _, r := range m.waiters {
		r.answer(rep)
	}
}

// abort ends a pairing that did not pair: the tenant is unpaired again,
// with no device (one recorded at PairPending is cleared).
func (p *pairing) abort(ctx context.Context, reason string) step {
	s := p.s
	s.closeConn()
	s.mu.Lock()
	s.qr = wa.QREvent{}
	s.mu.Unlock()
	p.failWaiting(ctl.CodeTimeout, reason)
	if p.minting != nil {
		for _, r := range p.minting.waiters {
			r.answer(ctl.Errorf(ctl.CodeTimeout, reason))
		}
		p.minting = nil
	}
	s.publishPairing(ctl.PairingEvent{Event: ctl.PairingTimeout})
	if !s.transition(ctx, change{state: StateUnpaired, reason: reason, clearDevice: true}) {
		return s.fenced
	}
	return s.end
}

// pairWriteTimeout bounds recording a device the phone is about to link.
const pairWriteTimeout = 10 * time.Second

// pairPending decides, before the driver confirms a pairing to the phone,
// whether it may go on: only while this session holds the lease and once
// the device is recorded for the tenant. Refused (false), the phone shows
// the pairing failed and the driver stores nothing, so a lost lease or a
// failed write leaves no orphaned device behind. It runs on the driver's
// goroutine (wa.PairPending is answered synchronously).
func (s *Session) pairPending(gen uint64, ev wa.PairPending) bool {
	if !s.current(connEvent{gen: gen}) {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, pairWriteTimeout)
	defer cancel()
	if err := s.m.setDevice(ctx, s, ev.JID); err != nil {
		s.log.WarnContext(ctx, "pairing refused", slog.String("error", err.Error()))
		return false
	}
	return true
}

// discard removes a device that was paired but cannot be used: recording
// it failed, or the tenant is no longer this worker's (deleted meanwhile,
// or taken over). It is logged out from WhatsApp (the phone drops it) and
// its credentials are deleted rather than left behind.
func (p *pairing) discard(ctx context.Context, jid string, why error) {
	s := p.s
	s.log.WarnContext(ctx, "paired a device that cannot be kept; removing it", slog.String("jid", obs.RedactJIDs(jid)), slog.String("error", why.Error()))
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// Right after pairing WhatsApp has the client log in again on a new
	// socket; a logout sent before that login would not reach the phone.
	for !p.conn.IsConnected() && retry.Sleep(lctx, 50*time.Millisecond) {
	}
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
