package waemu

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// liveFaults are the faults of a connection's life that the server plays
// on request: silent sockets, refused logins, the web client's version.
// Guarded by Server.mu; the zero value is ready.
type liveFaults struct {
	attempts     map[types.JID]int     // logins tried, refused or not
	refusals     map[types.JID]refusal // logins refused until lifted
	silentLogins map[types.JID]int     // logins left unanswered
	minVersion   uint32                // lower client revisions get 405
	webVersion   uint32                // served client_revision; 0: whatsmeow's own
	webStatus    int                   // when set, the page answers this status instead
	webFetches   int
}

// refusal is a <failure> the server answers a device's logins with, until
// lifted (zero: until AllowLogins).
type refusal struct {
	reason string
	code   int
	until  time.Time
}

// HalfOpen makes the device's connection go silent, as a half-open socket
// does: the server stops answering (keepalive pings included) and stops
// sending, yet the TCP connection stays open and whatever the client sends
// is read and dropped. The websocket layer still answers a close, so the
// client's own disconnect is quick. whatsmeow sees only its keepalives
// time out (events.KeepAliveTimeout). A new login of the device replaces
// the silent connection as any second login does.
//
// It returns ErrNotConnected.
func (s *Server) HalfOpen(device types.JID) error {
	c, err := s.conn(device)
	if err != nil {
		return err
	}
	c.silent.Store(true)
	return nil
}

// SilenceLogins makes the device's next n logins go unanswered: the Noise
// handshake completes (the client's connect returns), then the server says
// nothing, neither <success> nor <failure>, and the connection stays
// silent as with HalfOpen. AllowLogins ends it early.
func (s *Server) SilenceLogins(device types.JID, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live.silentLogins == nil {
		s.live.silentLogins = make(map[types.JID]int)
	}
	s.live.silentLogins[device] = n
}

// ClientOutdated refuses the device's logins with <failure reason="405">,
// as WhatsApp refuses a client version it no longer accepts (whatsmeow
// emits events.ClientOutdated), until AllowLogins, and closes its live
// connection so that it logs in again.
func (s *Server) ClientOutdated(device types.JID) {
	s.refuse(device, refusal{reason: "405"})
}

// TemporaryBan refuses the device's logins with <failure reason="402"
// code=code expire=seconds> (whatsmeow emits events.TemporaryBan with
// that code and expiry), and closes its live connection. With expire > 0
// the ban lifts by itself once expire has passed, and each refusal names
// the seconds left; with expire 0 the failure has no expire attribute and
// the ban lasts until AllowLogins.
func (s *Server) TemporaryBan(device types.JID, code int, expire time.Duration) {
	r := refusal{reason: "402", code: code}
	if expire > 0 {
		r.until = time.Now().Add(expire)
	}
	s.refuse(device, r)
}

func (s *Server) refuse(device types.JID, r refusal) {
	s.mu.Lock()
	if s.live.refusals == nil {
		s.live.refusals = make(map[types.JID]refusal)
	}
	s.live.refusals[device] = r
	c := s.conns[device]
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// AllowLogins lifts the device's refusals (ClientOutdated, TemporaryBan)
// and silenced logins: its next login succeeds again.
func (s *Server) AllowLogins(device types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live.refusals, device)
	delete(s.live.silentLogins, device)
}

// RequireVersion refuses with <failure reason="405"> every login whose
// client version (the client payload's app version, whose third part is
// the web client revision) is below revision, as WhatsApp does once it
// drops a version. Live connections are left alone. 0 accepts every
// version again.
func (s *Server) RequireVersion(revision uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.minVersion = revision
}

// LoginAttempts reports how many times the device tried to log in,
// whether the login succeeded, was refused or went unanswered.
func (s *Server) LoginAttempts(device types.JID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live.attempts[device]
}

// WaitLoginAttempts blocks until the device has tried to log in at least n
// times. It returns an error wrapping ctx's when ctx ends first, or
// ErrClosed.
func (s *Server) WaitLoginAttempts(ctx context.Context, device types.JID, n int) error {
	return s.waitFor(ctx, func() bool { return s.live.attempts[device] >= n })
}

// interceptLogin counts a login of dev and plays a refusal or silence set
// for it. It reports whether it did, in which case the login is over.
func (c *conn) interceptLogin(dev types.JID) bool {
	s := c.s
	s.mu.Lock()
	f := &s.live
	if f.attempts == nil {
		f.attempts = make(map[types.JID]int)
	}
	f.attempts[dev]++
	node, refused := f.refusalLocked(dev, c.clientRevision())
	silent := !refused && f.silentLogins[dev] > 0
	if silent {
		f.silentLogins[dev]--
	}
	s.notifyLocked()
	s.mu.Unlock()
	switch {
	case refused:
		s.debugf("refusing login of %s: %s", dev, node.String())
		_ = c.send(node)
		c.closeAfter(s.cfg.StreamErrorGrace)
	case silent:
		s.debugf("leaving the login of %s unanswered", dev)
		c.silent.Store(true)
	}
	return refused || silent
}

// refusalLocked returns the <failure> for a login of dev with the given
// client revision, if it is refused. s.mu must be held.
func (f *liveFaults) refusalLocked(dev types.JID, revision uint32) (waBinary.Node, bool) {
	r, ok := f.refusals[dev]
	if ok && !r.until.IsZero() && !time.Now().Before(r.until) {
		delete(f.refusals, dev)
		ok = false
	}
	if !ok && f.minVersion > 0 && revision < f.minVersion {
		r, ok = refusal{reason: "405"}, true
	}
	if !ok {
		return waBinary.Node{}, false
	}
	attrs := waBinary.Attrs{"reason": r.reason, "location": "emu"}
	if r.code != 0 {
		attrs["code"] = strconv.Itoa(r.code)
	}
	if !r.until.IsZero() {
		left := time.Until(r.until)
		attrs["expire"] = strconv.FormatInt(int64((left+time.Second-1)/time.Second), 10)
	}
	return waBinary.Node{Tag: "failure", Attrs: attrs}, true
}

// clientRevision is the web client revision the client payload names.
func (c *conn) clientRevision() uint32 {
	return c.payload.GetUserAgent().GetAppVersion().GetTertiary()
}

// SetWebVersion sets the client revision that the web client's page
// (https://web.whatsapp.com/, what whatsmeow.GetLatestVersion reads)
// announces. Defaults to the revision whatsmeow is built with.
func (s *Server) SetWebVersion(revision uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.webVersion = revision
}

// FailWebVersion makes the web client's page answer HTTP status instead
// of the page; 0 serves the page again.
func (s *Server) FailWebVersion(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live.webStatus = status
}

// WebVersionFetches reports how many times the web client's page was
// requested.
func (s *Server) WebVersionFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live.webFetches
}

// webPage is the part of WhatsApp Web's page that carries the version:
// whatsmeow looks for "client_revision":N, in it.
const webPage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>WhatsApp Web</title></head><body>` +
	`<script>window.__SERVER_DATA__={"server_revision":%[1]d,"client_revision":%[1]d,"hsi":"waemu"};</script></body></html>`

// serveWebPage answers GET https://web.whatsapp.com/.
func (s *Server) serveWebPage(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.live.webFetches++
	status, revision := s.live.webStatus, s.live.webVersion
	s.notifyLocked()
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if revision == 0 {
		revision = store.GetWAVersion()[2]
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, webPage, revision)
}
