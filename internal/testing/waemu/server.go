package waemu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Config tunes a Server. The zero value is what most tests want.
type Config struct {
	// Debug logs every stanza in both directions through t.Logf.
	// Defaults to true when the WAEMU_DEBUG environment variable is set.
	Debug bool
	// RedeliverEvery resends unacknowledged stanzas (messages, receipts) to a
	// connected device at this interval. Defaults to 0: they are resent only
	// when the device logs in again, as WhatsApp does with offline messages.
	RedeliverEvery time.Duration
	// StreamErrorGrace is how long the server waits for the client to close
	// the socket after a stream error or login failure before closing it
	// itself. Defaults to 1s.
	StreamErrorGrace time.Duration
	// PairTimeout is how long ScanQR waits for the client to confirm the
	// pairing. Defaults to 30s.
	PairTimeout time.Duration
	// NoAutoContacts makes only numbers registered with AddContact exist on
	// WhatsApp. Defaults to false: every number that does not start with 999
	// is on WhatsApp.
	NoAutoContacts bool
	// CertValidFrom and CertValidFor bound the noise certificate chain's
	// validity, as WhatsApp's real chain carries dates that whatsmeow
	// checks. Defaults to one hour ago and 30 days. A chain that is not
	// valid now makes every handshake fail, as an expired real one would.
	CertValidFrom time.Time
	CertValidFor  time.Duration
	// HistoryAfterPair, when set, makes the phone send a history sync blob
	// of that description (see NewHistorySync) to every device it pairs.
	// Defaults to nil: no history sync.
	HistoryAfterPair *HistorySync
	// LinkCodeDelay holds back the server's answer to each phone-code
	// registration (whatsmeow's PairPhone), as a slow WhatsApp would.
	// Defaults to 0.
	LinkCodeDelay time.Duration
	// AckDelay holds back the server's ack of each message a client sends
	// (once it has taken the message), as a slow WhatsApp would. Defaults
	// to 0.
	AckDelay time.Duration
}

func (c Config) withDefaults() Config {
	c.Debug = c.Debug || os.Getenv("WAEMU_DEBUG") != ""
	c.StreamErrorGrace = cmp.Or(c.StreamErrorGrace, time.Second)
	c.PairTimeout = cmp.Or(c.PairTimeout, 30*time.Second)
	if c.CertValidFrom.IsZero() {
		c.CertValidFrom = time.Now().Add(-time.Hour)
	}
	c.CertValidFor = cmp.Or(c.CertValidFor, 30*24*time.Hour)
	return c
}

// Server is a fake WhatsApp multi-device server on a local port. whatsmeow
// clients reach it through HTTPClient (see Configure). It keeps its state in
// memory: accounts, paired devices and their uploaded keys, emulated
// contacts, messages in flight and uploaded media.
type Server struct {
	t   testing.TB
	cfg Config

	ln     net.Listener
	hs     *http.Server
	client *http.Client
	static *keys.KeyPair
	certs  []byte
	wg     sync.WaitGroup
	stop   chan struct{}

	logMu     sync.Mutex
	logClosed bool

	mu         sync.Mutex
	closed     bool
	users      map[string]*user
	lids       map[string]*user // by LID user part
	companions map[types.JID]*companion
	conns      map[types.JID]*conn
	logins     map[types.JID]int
	open       map[*conn]struct{}
	pairing    map[string]*conn
	linking    map[string]*conn
	outbox     []*stanza
	received   []Received
	states     []ChatState
	receipts   []ClientReceipt
	media      map[string][]byte
	histories  map[types.JID][]*HistoryBlob
	linkCodes  map[string]int // phone-code registrations by phone
	changed    chan struct{}
	seq        uint64

	mediaFaults  map[string]mediaFault // by blob path (media_faults.go)
	mediaRetries []string              // media retry receipts, by message id

	held          map[string]*heldMessage // contacts' messages the phones resend (retry.go)
	retries       []string                // clients' retry receipts, by message id
	phoneRequests []string                // placeholder resends answered, by message id
	live          liveFaults
	// lid.go and senderrors.go (nil maps until first used)
	addressing  map[string]Addressing // contact phone → how it is named
	lidSessions map[string]bool       // contact phone>device: LID session started
	refusals    refusals
}

// Start starts a Server with the default Config, closed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartConfig(t, Config{})
}

// StartConfig starts a Server with cfg on 127.0.0.1, closed when the test
// ends. It installs the process's test root certificate key into
// whatsmeow.WACertPubKey (once per process), so call it before creating
// whatsmeow clients.
func StartConfig(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := newServer(t, cfg.withDefaults())
	if err != nil {
		t.Fatalf("waemu: start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newServer(t testing.TB, cfg Config) (*Server, error) {
	static := keys.NewKeyPair()
	certs, err := newCertChain(installRootKey(), *static.Pub, cfg.CertValidFrom, cfg.CertValidFrom.Add(cfg.CertValidFor))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		t: t, cfg: cfg, ln: ln, static: static, certs: certs,
		stop:       make(chan struct{}),
		users:      make(map[string]*user),
		lids:       make(map[string]*user),
		companions: make(map[types.JID]*companion),
		conns:      make(map[types.JID]*conn),
		logins:     make(map[types.JID]int),
		open:       make(map[*conn]struct{}),
		pairing:    make(map[string]*conn),
		linking:    make(map[string]*conn),
		media:      make(map[string][]byte),
		histories:  make(map[types.JID][]*HistoryBlob),
		linkCodes:  make(map[string]int),
		changed:    make(chan struct{}),
	}
	s.client = newHTTPClient(ln.Addr().String())
	s.hs = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Go(func() { _ = s.hs.Serve(ln) })
	if cfg.RedeliverEvery > 0 {
		s.wg.Go(s.redeliverLoop)
	}
	return s, nil
}

// newHTTPClient dials addr for every host, and hands the plain TCP
// connection to net/http as if it were TLS for https URLs.
func newHTTPClient(addr string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         dial,
		DialTLSContext:      dial,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// Addr is the server's listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HTTPClient returns the HTTP client that routes every request (the
// websocket at wss://web.whatsapp.com/ws/chat, media uploads and downloads)
// to this server.
func (s *Server) HTTPClient() *http.Client { return s.client }

// Configure points cli at this server: its websocket (before and after
// login) and media HTTP clients.
func (s *Server) Configure(cli *whatsmeow.Client) {
	cli.SetPreLoginHTTPClient(s.client)
	cli.SetWebsocketHTTPClient(s.client)
	cli.SetMediaHTTPClient(s.client)
}

// Close stops the server: it closes the listener and every connection and
// waits for its goroutines. Tests need not call it; Start arranges it.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.stop)
	conns := make([]*conn, 0, len(s.open))
	for c := range s.open {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	_ = s.hs.Close()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	if tr, ok := s.client.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	s.logMu.Lock()
	s.logClosed = true
	s.logMu.Unlock()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/ws/chat" && isWebsocketUpgrade(r):
		s.serveWebsocket(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/":
		s.serveWebPage(w, r)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/mms/"):
		s.serveUpload(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/mms/"):
		s.serveDelete(w, r)
	case r.Method == http.MethodGet:
		s.serveDownload(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closing", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	ws, err := upgradeWebsocket(w, r)
	if err != nil {
		s.logf("websocket: %v", err)
		return
	}
	c := newConn(s, ws)
	if !s.track(c) {
		ws.close()
		return
	}
	defer s.untrack(c)
	c.run()
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.open[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, c)
	s.forgetPairingLocked(c)
	if !c.dev.IsEmpty() && s.conns[c.dev] == c {
		delete(s.conns, c.dev)
	}
	s.notifyLocked()
}

// forgetPairingLocked drops c's QR refs and phone-code pairing. s.mu must
// be held.
func (s *Server) forgetPairingLocked(c *conn) {
	for ref, pc := range s.pairing {
		if pc == c {
			delete(s.pairing, ref)
		}
	}
	for phone, pc := range s.linking {
		if pc == c {
			delete(s.linking, phone)
		}
	}
}

// goTracked runs fn on a goroutine that Close waits for.
func (s *Server) goTracked(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Go(fn)
}

// logf logs through t.Logf until the server is closed.
func (s *Server) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if !s.logClosed {
		s.t.Logf("waemu: "+format, args...)
	}
}

// debugf logs only with Config.Debug.
func (s *Server) debugf(format string, args ...any) {
	if s.cfg.Debug {
		s.logf(format, args...)
	}
}

// notifyLocked wakes everything waiting in waitFor. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor blocks until cond (called with s.mu held) is true, ctx is done or
// the server closes.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait: %w", ctx.Err())
		case <-s.stop:
			return ErrClosed
		}
	}
}

// nextID returns a fresh stanza id.
func (s *Server) nextID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("emu.%d", s.seq)
}

// Connected reports whether the device is logged in right now.
func (s *Server) Connected(device types.JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.conns[device]
	return ok
}

// Logins reports how many times the device has logged in successfully.
func (s *Server) Logins(device types.JID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins[device]
}

// WaitConnected blocks until the device is logged in. It returns an error
// wrapping ctx's when ctx ends first, or ErrClosed.
func (s *Server) WaitConnected(ctx context.Context, device types.JID) error {
	return s.waitFor(ctx, func() bool { _, ok := s.conns[device]; return ok })
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errWSClosed)
}
