package session

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/tenant"
)

// Liveness says when a session gives up on a connection that looks open
// but is dead, and how it retries when WhatsApp refuses it. The manager
// is the only one that reconnects (drivers never do it by themselves), so
// these policies hold for every driver alike.
type Liveness struct {
	// KeepAliveTimeout ends a connection whose keepalive pings have gone
	// unanswered for longer than this since the last answered one (a
	// half-open socket: no error, no data); the session reconnects with its
	// usual backoff, reason keepalive_timeout. The driver reports failed
	// pings (whatsmeow: every 20-30s, each given 10s), so the connection
	// ends at the first failure past this. Defaults to 1m.
	KeepAliveTimeout time.Duration
	// LoginTimeout ends a connection whose socket came up but whose login
	// WhatsApp neither accepted nor refused within this time, the same way
	// (reason keepalive_timeout). Defaults to 1m.
	LoginTimeout time.Duration
	// OutdatedRetry is how long a session waits, jittered down to half,
	// before it logs in again after WhatsApp refused the client version
	// (login failure 405, reason client_outdated). Defaults to 10m.
	OutdatedRetry time.Duration
	// BanRetryMin is the first wait after a temporary ban that names no
	// expiry (a ban with one is waited out to its end). Defaults to 1m.
	BanRetryMin time.Duration
	// BanRetryMax caps that wait, which doubles with each ban in a row
	// (jittered). Defaults to 1h.
	BanRetryMax time.Duration
	// ReplacedMax stream replacements (another client took over the
	// device's credentials) within ReplacedWindow stop the session: it
	// stays disconnected, reason stream_replaced, until a reconnect request
	// (admin POST /v1/sessions/{tenant}/reconnect), also across restarts and
	// moves to other workers. Fewer are retried after a long backoff.
	// Defaults to 3.
	ReplacedMax int
	// ReplacedWindow is the window of ReplacedMax. Defaults to 10m.
	ReplacedWindow time.Duration
}

func (l Liveness) withDefaults() Liveness {
	l.KeepAliveTimeout = cmp.Or(max(l.KeepAliveTimeout, 0), time.Minute)
	l.LoginTimeout = cmp.Or(max(l.LoginTimeout, 0), time.Minute)
	l.OutdatedRetry = cmp.Or(max(l.OutdatedRetry, 0), 10*time.Minute)
	l.BanRetryMin = cmp.Or(max(l.BanRetryMin, 0), time.Minute)
	l.BanRetryMax = max(cmp.Or(max(l.BanRetryMax, 0), time.Hour), l.BanRetryMin)
	l.ReplacedMax = cmp.Or(max(l.ReplacedMax, 0), 3)
	l.ReplacedWindow = cmp.Or(max(l.ReplacedWindow, 0), 10*time.Minute)
	return l
}

// liveState is a session's memory for the Liveness policies; all but
// stopped belong to the run loop.
type liveState struct {
	bans     int         // temporary bans without an expiry in a row
	replaced []time.Time // stream replacements within the window
	checked  bool        // start has read whether the session was stopped
	reason   string      // why the session is stopped
	stopped  atomic.Bool // stopped until a reconnect request
}

// stoppedPrefix starts the reason of a session stopped after repeated
// stream replacements; start finds it in wabus_tenant after a restart.
const stoppedPrefix = event.ReasonStreamReplaced + ": stopped"

// keepAliveFailed ends the connection once keepalives have gone
// unanswered for longer than KeepAliveTimeout; until then it only logs.
func (s *Session) keepAliveFailed(ctx context.Context, ev wa.KeepAliveTimeout) step {
	silent := time.Since(ev.LastSuccess)
	if ev.LastSuccess.IsZero() || silent <= s.m.cfg.Liveness.KeepAliveTimeout {
		s.log.WarnContext(ctx, "keepalive timeout", slog.Int("count", ev.Count))
		return nil
	}
	return s.unresponsive(ctx, fmt.Sprintf("no keepalive answered for %s (%d failed)", silent.Round(time.Second), ev.Count))
}

// unresponsive ends a connection that WhatsApp stopped answering; the
// session reconnects with its usual backoff.
func (s *Session) unresponsive(ctx context.Context, why string) step {
	s.m.metrics.live.keepalive.Inc()
	return s.dropped(ctx, event.ReasonKeepAliveTimeout+": "+why)
}

// loginTimer bounds the wait for the login's answer on a fresh socket; it
// is nil (never fires) when the session is not waiting for one.
func (s *Session) loginTimer() *time.Timer {
	if s.State() != StateConnecting {
		return nil
	}
	return time.NewTimer(s.m.cfg.Liveness.LoginTimeout)
}

// outdated: WhatsApp refuses this client version. Retrying soon cannot
// help (only a newer version can: the whatsmeow driver fetches the
// current one when it sees this), so the session waits OutdatedRetry.
func (s *Session) outdated(ctx context.Context, ev wa.ConnectFailure) step {
	s.dropConn()
	s.m.metrics.live.outdated.Inc()
	d := retry.Jitter(s.m.cfg.Liveness.OutdatedRetry)
	reason := fmt.Sprintf("%s: whatsapp refuses this client version (%s); next try in %s; upgrade wabus (docs/OPERATIONS.md)",
		event.ReasonClientOutdated, ev.Reason, d.Round(time.Second))
	s.log.ErrorContext(ctx, "whatsapp refuses this client version", slog.String("reason", ev.Reason), slog.Duration("retry_in", d))
	if !s.transition(ctx, change{state: StateDisconnected, reason: reason}) {
		return s.fenced
	}
	return s.wait(d, s.reconnect)
}

// banned: WhatsApp banned the account for now. A ban with an expiry is
// waited out; one without (or with one already past) is retried after a
// delay that grows with each ban in a row, never in a loop. Sends wait
// meanwhile: the session is not usable, so no send loop runs.
func (s *Session) banned(ctx context.Context, ev wa.TemporaryBan) step {
	s.dropConn()
	d := time.Until(ev.Expires)
	reason := fmt.Sprintf("%s: %s; until %s", event.ReasonBanned, ev.Reason, ev.Expires.UTC().Format(time.RFC3339))
	if ev.Expires.IsZero() || d <= 0 {
		ev.Expires = time.Time{}
		s.live.bans++
		d = s.banDelay(s.live.bans)
		reason = fmt.Sprintf("%s: %s; whatsapp named no end, next try in %s", event.ReasonBanned, ev.Reason, d.Round(time.Second))
	}
	s.mu.Lock()
	s.banExpires = ev.Expires
	s.mu.Unlock()
	if !s.transition(ctx, change{state: StateBanned, reason: reason, banExpires: ev.Expires}) {
		return s.fenced
	}
	return s.wait(d, s.reconnect)
}

// banDelay is the wait after the n-th ban in a row without an expiry.
func (s *Session) banDelay(n int) time.Duration {
	l := s.m.cfg.Liveness
	return retry.Jitter(min(l.BanRetryMin<<min(n-1, 16), l.BanRetryMax))
}

// streamReplaced: another connection of this device took over. While our
// lease holds that connection is not one of ours (every write of ours is
// fenced by the lease, so a takeover by another worker ends this session
// at its next transition). A few replacements are retried after a long
// backoff; ReplacedMax within ReplacedWindow stop the session, so two
// clients of one device never kick each other off forever.
func (s *Session) streamReplaced(ctx context.Context) step {
	s.dropConn()
	if !s.m.keeper.Valid(s.lease) {
		return s.fenced
	}
	l := s.m.cfg.Liveness
	now := time.Now()
	s.live.replaced = append(slices.DeleteFunc(s.live.replaced, func(t time.Time) bool { return now.Sub(t) > l.ReplacedWindow }), now)
	n := len(s.live.replaced)
	if n >= l.ReplacedMax {
		return s.stopped(fmt.Sprintf("%s after %d replacements within %s: another client uses these credentials; a reconnect request resumes the session",
			stoppedPrefix, n, l.ReplacedWindow))
	}
	s.attempt = max(s.attempt, 4) // start from a long delay
	return s.backoff(fmt.Errorf("%s: another connection of this device took over (%d of %d within %s stop the session)",
		event.ReasonStreamReplaced, n, l.ReplacedMax, l.ReplacedWindow))
}

// stopped records the session as disconnected for reason and then only
// answers control requests: a reconnect request resumes it. The reason
// stays in wabus_tenant, so a restart or another worker keeps it stopped.
func (s *Session) stopped(reason string) step {
	return func(ctx context.Context) step {
		s.live.reason = reason
		s.live.stopped.Store(true)
		s.log.WarnContext(ctx, "session stopped until a reconnect request", slog.String("reason", reason))
		if !s.transition(ctx, change{state: StateDisconnected, reason: reason}) {
			return s.fenced
		}
		for {
			select {
			case <-ctx.Done():
				return s.shutdown
			case <-s.events: // of a closed conn
			case req := <-s.requests:
				if st := s.onRequest(ctx, req); st != nil {
					return st
				}
			}
		}
	}
}

// resume forgets a stop and the replacements that led to it: an
// operator asked for a reconnect.
func (s *Session) resume() {
	s.live.stopped.Store(false)
	s.live.reason = ""
	s.live.replaced = nil
	s.live.checked = true
}

// releasedReason is what shutdown records: a stopped session stays
// stopped for whoever runs it next.
func (s *Session) releasedReason() string {
	if s.live.stopped.Load() {
		return s.live.reason
	}
	return "worker released the session"
}

// stoppedBefore reports whether the tenant's last recorded state is a stop
// after repeated stream replacements (by this worker before a restart, or
// by another one), and its reason. It reads once per session: after that
// the session's own state rules.
func (s *Session) stoppedBefore(ctx context.Context) (string, bool) {
	if s.live.checked {
		return "", false
	}
	s.live.checked = true
	state, reason, ok, err := tenant.LastState(ctx, s.m.deps.Pool, s.tenant)
	if err != nil {
		s.log.WarnContext(ctx, "read last session state", slog.String("error", err.Error()))
	}
	return reason, ok && state == StateDisconnected && strings.HasPrefix(reason, stoppedPrefix)
}

// liveMetrics count what the Liveness policies did.
type liveMetrics struct {
	outdated  prometheus.Counter
	keepalive prometheus.Counter
}

func (x *liveMetrics) register(reg prometheus.Registerer, m *Manager) error {
	x.outdated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wabus_session_client_outdated_total",
		Help: "Logins WhatsApp refused because this client version is outdated (405); sessions retry slowly until wabus is upgraded.",
	})
	x.keepalive = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wabus_session_keepalive_timeouts_total",
		Help: "Connections ended because WhatsApp stopped answering keepalives or never answered the login (half-open sockets).",
	})
	stopped := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wabus_sessions_stream_replaced",
		Help: "Sessions of this worker stopped after repeated stream replacements, waiting for a reconnect request.",
	}, func() float64 { return float64(m.stoppedSessions()) })
	for _, c := range []prometheus.Collector{x.outdated, x.keepalive, stopped} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register session metrics: %w", err)
		}
	}
	return nil
}

// stoppedSessions counts the sessions stopped until a reconnect request.
func (m *Manager) stoppedSessions() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if s.live.stopped.Load() {
			n++
		}
	}
	return n
}
