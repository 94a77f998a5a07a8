package session

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// Session states, as vocab defines them.
const (
	StateUnpaired     = vocab.StateUnpaired
	StatePairing      = vocab.StatePairing
	StateConnecting   = vocab.StateConnecting
	StateConnected    = vocab.StateConnected
	StateDisconnected = vocab.StateDisconnected
	StateBanned       = vocab.StateBanned
	StateLoggedOut    = vocab.StateLoggedOut
)

// Session is one tenant's WhatsApp session on this worker. Its run loop is
// the only writer of its state; other goroutines talk to it through events
// (from the driver) and requests (control).
type Session struct {
	m      *Manager
	tenant string
	lease  lease.Lease
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger

	events   chan connEvent
	requests chan *request
	gen      uint64 // generation of the current conn; older events are stale

	mu         sync.Mutex
	state      string
	conn       wa.Conn
	jid        string
	qr         wa.QREvent // current QR code while pairing
	banExpires time.Time

	// owned by the run loop
	attempt      int  // consecutive failed connects
	reconnecting bool // the next connect counts as a reconnect
	live         liveState

	// owned by the run loop: when a restriction was last reported
	restrictedAt time.Time
}

func newSession(m *Manager, l lease.Lease) *Session {
	ctx, cancel := context.WithCancel(m.runCtx)
	return &Session{
		m: m, tenant: l.Tenant, lease: l, ctx: ctx, cancel: cancel,
		done:     make(chan struct{}),
		log:      m.log.With(slog.String("tenant", l.Tenant)),
		events:   make(chan connEvent, 32),
		requests: make(chan *request),
		state:    StateConnecting,
	}
}

// Tenant returns the tenant id.
func (s *Session) Tenant() string { return s.tenant }

// Lease returns the lease this session runs under.
func (s *Session) Lease() lease.Lease { return s.lease }

// State returns the current state.
func (s *Session) State() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Conn returns the connection while connected, or nil.
func (s *Session) Conn() wa.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != StateConnected {
		return nil
	}
	return s.conn
}

// Usable reports whether this worker may act for the tenant right now: its
// lease is valid on the local clock and the session is connected.
func (s *Session) Usable() bool {
	return s.m.keeper.Valid(s.lease) && s.Conn() != nil
}

func (s *Session) stop() {
	s.cancel()
	<-s.done
}

// step is one state of the run loop; it returns the next, or nil to end.
type step func(ctx context.Context) step

// run drives the session until ctx ends or the session ends by itself.
func (s *Session) run(ctx context.Context) {
	defer close(s.done)
	ended := false
	for st := s.start; st != nil; {
		st = s.guard(ctx, st)
		if st == nil && ctx.Err() == nil {
			ended = true
		}
	}
	s.dropConn()
	if ended {
		s.m.ended(s)
	}
}

// guard runs st, turning a panic into a logged, counted error and a
// reconnect after backoff: one session can never crash the process.
func (s *Session) guard(ctx context.Context, st step) (next step) {
	defer func() {
		if r := recover(); r != nil {
			s.m.metrics.panics.Inc()
			s.log.Error("session panic recovered", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			s.closeConn()
			next = s.backoff(errors.New("internal error"))
		}
	}()
	return st(ctx)
}

// start loads the tenant's device and connects it, or waits for pairing.
func (s *Session) start(ctx context.Context) step {
	jid, err := s.m.deviceJID(ctx, s.tenant)
	if err != nil {
		return s.backoff(err)
	}
	if jid == "" {
		return s.idle
	}
	dev, err := s.m.loadDevice(ctx, jid)
	if err != nil {
		return s.backoff(err)
	}
	if dev == nil { // credentials gone: removed while no one was connected
		s.transition(ctx, change{state: StateLoggedOut, reason: "credentials missing from the device store", clearDevice: true})
		return s.idle
	}
	if reason, ok := s.stoppedBefore(ctx); ok {
		return s.stopped(reason)
	}
	return s.connectDevice(dev)
}

// connectDevice opens and connects dev, then waits for login.
func (s *Session) connectDevice(dev wa.Device) step {
	return func(ctx context.Context) step {
		conn, err := s.open(dev)
		if err != nil {
			return s.backoff(err)
		}
		if !s.transition(ctx, change{state: StateConnecting}) {
			return s.fenced
		}
		release, err := s.m.acquireSlot(ctx)
		if err != nil {
			return s.shutdown
		}
		err = conn.Connect(ctx)
		release()
		if err != nil {
			s.closeConn()
			return s.backoff(err)
		}
		return s.online
	}
}

// reconnectDelay returns the next backoff delay for attempt n (from 1):
// exponential from ReconnectMin, capped, with up to 50% jitter.
func (s *Session) reconnectDelay(n int) time.Duration {
	d := s.m.cfg.ReconnectMin << min(n-1, 16)
	d = min(d, s.m.cfg.ReconnectMax)
	return retry.Jitter(d)
}

// open opens a Conn for dev whose events carry a new generation.
func (s *Session) open(dev wa.Device) (wa.Conn, error) {
	s.mu.Lock()
	s.gen++
	h := handler{s: s, gen: s.gen}
	s.mu.Unlock()
	conn, err := s.m.deps.Driver.Open(s.tenant, dev, h)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conn = conn
	s.mu.Unlock()
	return conn, nil
}

// current reports whether ev came from the current conn.
func (s *Session) current(ev connEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ev.gen == s.gen && s.conn != nil
}

// dropConn tells the listeners that the session stops being usable, which
// stops its send loop (a send in flight ends or is handed back), and then
// closes the connection: no send is left waiting on a connection that is
// going away.
func (s *Session) dropConn() {
	s.notifyDisconnected()
	s.closeConn()
}

func (s *Session) closeConn() {
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.mu.Unlock()
	if c != nil {
		c.Disconnect()
	}
}

// connEvent is a lifecycle event tagged with the conn generation.
type connEvent struct {
	gen uint64
	ev  wa.Event
}

// handler adapts a Session to wa.Handler for one conn generation.
type handler struct {
	s   *Session
	gen uint64
}

func (h handler) Handle(ev wa.Event) bool {
	switch ev := ev.(type) {
	case wa.Message:
		return h.s.m.storeMessage(h, ev)
	case wa.Receipt:
		return h.s.m.storeReceipt(h, ev)
	case wa.PairPending:
		return h.s.pairPending(h.gen, ev)
	default:
		select {
		case h.s.events <- connEvent{h.gen, ev}:
		case <-h.s.ctx.Done():
		}
		return true
	}
}
