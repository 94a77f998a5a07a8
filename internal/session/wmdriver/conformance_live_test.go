package wmdriver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// The tests of a connection's life on real WhatsApp: sockets that look
// open but are dead, logins that are never answered, refused versions,
// bans and replaced streams, all played by the emulator to the real
// whatsmeow driver.

// liveWait bounds waits that include a login; generous, as -race on a
// small machine makes whatsmeow's crypto slow.
const liveWait = 30 * time.Second

// the reconnect delays startWorkerOn gives by default.
const reconnectMax = time.Second

// tenantState is the tenant's recorded state and last_error.
func tenantState(t testing.TB, s *testenv.Stack, tenant string) (state, reason string) {
	t.Helper()
	err := s.Pool.QueryRow(context.Background(), `SELECT state, coalesce(last_error, '') FROM wabus_tenant WHERE id = $1`, tenant).Scan(&state, &reason)
	if err != nil {
		t.Fatal(err)
	}
	return state, reason
}

// waitTenant waits until the tenant's recorded state is state and its
// reason starts with prefix.
func waitTenant(t testing.TB, s *testenv.Stack, tenant, state, prefix string, within time.Duration) {
	t.Helper()
	testenv.Eventually(t, within, tenant+" "+state+" with reason "+prefix, func() bool {
		st, reason := tenantState(t, s, tenant)
		return st == state && strings.HasPrefix(reason, prefix)
	})
}

// sessionEventsOf returns the tenant's session events on the bus, in order.
// waitSessionEvent waits for a session event of tenant in state whose
// reason starts with prefix, and returns it.
func waitSessionEvent(t testing.TB, s *testenv.Stack, tenant, state, prefix string) event.Session {
	t.Helper()
	var found event.Session
	testenv.Eventually(t, liveWait, "session event "+state+" "+prefix, func() bool {
		for _, e := range sessionEvents(t, s, tenant) {
			if e.State == state && strings.HasPrefix(e.Reason, prefix) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// checkSentOnce waits until job ended sent and checks that the recipient
// got it exactly once and nothing failed.
func checkSentOnce(t *testing.T, s *testenv.Stack, emu *waemu.Server, tenant, jobID string) {
	t.Helper()
	msgID := job.MessageID(tenant, jobID)
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveWait)
	defer cancel()
	if _, err := emu.WaitReceived(ctx, msgID); err != nil {
		t.Fatalf("job %s never reached the recipient: %v", jobID, err)
	}
	testenv.Eventually(t, liveWait, "sent event of "+jobID, func() bool { return len(sentEvents(t, s, tenant)[jobID]) == 1 })
	if n := len(failedEvents(t, s, tenant)); n != 0 {
		t.Fatalf("%d failed events, want none", n)
	}
	got := 0
	for _, r := range emu.Received() {
		if r.ID == msgID && !r.Duplicate {
			got++
		}
	}
	if got != 1 {
		t.Fatalf("recipient got job %s %d times, want once", jobID, got)
	}
}

// minWait is the least time n retries after a first refusal can take
// when the i-th waits retry.Jitter(min(first<<(i-1), most)): half of it.
func minWait(n int, first, most time.Duration) time.Duration {
	var total time.Duration
	for i := range n {
		total += min(first<<i, most) / 2
	}
	return total
}

func TestConformanceHalfOpenSocketReconnectsAndTheWaitingJobIsSent(t *testing.T) {
	t.Parallel()
	live := session.Liveness{KeepAliveTimeout: 3 * time.Second}
	s, emu, _, w, dev := pairedAcmeWith(t, session.Config{Liveness: live})

	if err := emu.HalfOpen(dev); err != nil {
		t.Fatal(err)
	}
	// Published while the socket is half-open: the send loop takes it and
	// its send hangs on the silent socket.
	publishJob(t, s, "acme", map[string]any{"id": "half-open-1", "to": "+51987654321", "text": "still there?"})

	// Keepalives fail for KeepAliveTimeout (each failure shows within a
	// keepalive period), then the backoff, then a login.
	back := live.KeepAliveTimeout + keepAlivePeriod + reconnectMax + liveWait
	testenv.Eventually(t, back, "logged in again", func() bool { return emu.Logins(dev) == 2 && emu.Connected(dev) })
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	waitSessionEvent(t, s, "acme", vocab.StateDisconnected, event.ReasonKeepAliveTimeout+": no keepalive answered")
	if n := metricValue(t, w.Registry, "wabus_session_keepalive_timeouts_total"); n != 1 {
		t.Fatalf("keepalive timeouts counted %v, want 1", n)
	}
	checkSentOnce(t, s, emu, "acme", "half-open-1")
}

func TestConformanceUnansweredLoginReconnects(t *testing.T) {
	t.Parallel()
	live := session.Liveness{LoginTimeout: 2 * time.Second}
	s, emu, _, w, dev := pairedAcmeWith(t, session.Config{Liveness: live})
	before := emu.LoginAttempts(dev)

	emu.SilenceLogins(dev, 1)
	if err := emu.DropSocket(dev); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, live.LoginTimeout+2*reconnectMax+liveWait, "logged in after an unanswered login", func() bool {
		return emu.Logins(dev) == 2 && emu.Connected(dev)
	})
	if n := emu.LoginAttempts(dev) - before; n != 2 {
		t.Fatalf("%d login attempts after the drop, want 2 (unanswered, then logged in)", n)
	}
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	waitSessionEvent(t, s, "acme", vocab.StateDisconnected, event.ReasonKeepAliveTimeout+": login not answered within 2s")
	if n := metricValue(t, w.Registry, "wabus_session_keepalive_timeouts_total"); n != 1 {
		t.Fatalf("keepalive timeouts counted %v, want 1", n)
	}
}

func TestConformanceClientOutdatedRetriesSlowly(t *testing.T) {
	t.Parallel()
	live := session.Liveness{OutdatedRetry: 2 * time.Second}
	s, emu, _, w, dev := pairedAcmeWith(t, session.Config{Liveness: live})

	emu.ClientOutdated(dev)
	waitTenant(t, s, "acme", vocab.StateDisconnected, event.ReasonClientOutdated+": ", liveWait)
	start, first := time.Now(), emu.LoginAttempts(dev)
	waitEmuAttempts(t, emu, dev, first+2, 3*live.OutdatedRetry+liveWait)
	elapsed, retries := time.Since(start), emu.LoginAttempts(dev)-first
	// Each retry waits at least OutdatedRetry/2: a loop would retry at once.
	if least := minWait(retries-1, live.OutdatedRetry, live.OutdatedRetry); elapsed < least {
		t.Fatalf("%d retries in %s; the slow retry allows them no sooner than %s", retries, elapsed, least)
	}
	if st, _ := tenantState(t, s, "acme"); st != vocab.StateDisconnected && st != vocab.StateConnecting {
		t.Fatalf("state %s while refused, want disconnected (or connecting for the next try)", st)
	}
	if n := metricValue(t, w.Registry, "wabus_session_client_outdated_total"); n < 2 {
		t.Fatalf("client outdated counted %v times, want every refusal (at least 2)", n)
	}

	emu.AllowLogins(dev)
	testenv.Eventually(t, live.OutdatedRetry+liveWait, "logged in once accepted", func() bool { return emu.Connected(dev) })
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
}

// waitEmuAttempts waits until dev has tried to log in n times.
func waitEmuAttempts(t testing.TB, emu *waemu.Server, dev types.JID, n int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := emu.WaitLoginAttempts(ctx, dev, n); err != nil {
		t.Fatalf("%d login attempts, want %d: %v", emu.LoginAttempts(dev), n, err)
	}
}

func TestConformanceBanWithoutExpiryBacksOffAndJobsWait(t *testing.T) {
	t.Parallel()
	live := session.Liveness{BanRetryMin: 200 * time.Millisecond, BanRetryMax: 800 * time.Millisecond}
	s, emu, _, _, dev := pairedAcmeWith(t, session.Config{Liveness: live})

	emu.TemporaryBan(dev, int(events.TempBanSentToTooManyPeople), 0)
	waitTenant(t, s, "acme", vocab.StateBanned, event.ReasonBanned+": ", liveWait)
	publishJob(t, s, "acme", map[string]any{"id": "while-banned", "to": "+51987654321", "text": "after the ban"})

	start, first := time.Now(), emu.LoginAttempts(dev)
	waitEmuAttempts(t, emu, dev, first+4, 4*live.BanRetryMax+liveWait)
	elapsed, retries := time.Since(start), emu.LoginAttempts(dev)-first
	// The waits grow from BanRetryMin to BanRetryMax (jittered down to
	// half at most): a hot loop makes these retries in milliseconds.
	if least := minWait(retries-1, live.BanRetryMin, live.BanRetryMax); elapsed < least {
		t.Fatalf("%d retries in %s; the ban backoff allows them no sooner than %s", retries, elapsed, least)
	}
	if st, _ := tenantState(t, s, "acme"); st != vocab.StateBanned && st != vocab.StateConnecting {
		t.Fatalf("state %s while banned, want banned (or connecting for the next try)", st)
	}
	if n := len(failedEvents(t, s, "acme")); n != 0 || len(sentEvents(t, s, "acme")) != 0 {
		t.Fatalf("while banned: %d failed events, sent %v; the job must wait", n, sentEvents(t, s, "acme"))
	}

	emu.AllowLogins(dev)
	testenv.Eventually(t, live.BanRetryMax+liveWait, "logged in once the ban lifted", func() bool { return emu.Connected(dev) })
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	checkSentOnce(t, s, emu, "acme", "while-banned")
}

func TestConformanceBanWithExpiryIsWaitedOut(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcmeWith(t, session.Config{})
	before := emu.LoginAttempts(dev)

	emu.TemporaryBan(dev, int(events.TempBanBlockedByUsers), 2*time.Second)
	ev := waitSessionEvent(t, s, "acme", vocab.StateBanned, event.ReasonBanned+": 102: too many people blocked you; until ")
	var expires *time.Time
	if err := s.Pool.QueryRow(context.Background(), `SELECT ban_expires FROM wabus_tenant WHERE id = 'acme'`).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if st, _ := tenantState(t, s, "acme"); st == vocab.StateBanned && expires == nil {
		t.Fatalf("banned (%q) without ban_expires", ev.Reason)
	}
	testenv.Eventually(t, liveWait, "logged in after the ban", func() bool { return emu.Connected(dev) })
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	// One login refused, the next one after the expiry: nothing between.
	if n := emu.LoginAttempts(dev) - before; n != 2 {
		t.Fatalf("%d login attempts after the ban, want 2 (refused, then after the expiry)", n)
	}
}

func TestConformanceRepeatedStreamReplacementStopsUntilReconnect(t *testing.T) {
	t.Parallel()
	live := session.Liveness{ReplacedMax: 3, ReplacedWindow: time.Minute}
	cfg := session.Config{Liveness: live}
	s, emu, nc, w, dev := pairedAcmeWith(t, cfg)

	for i := 1; i <= live.ReplacedMax; i++ {
		if err := emu.StreamReplaced(dev); err != nil {
			t.Fatalf("replacement %d: %v", i, err)
		}
		if i < live.ReplacedMax {
			testenv.Eventually(t, liveWait, "back after a replacement", func() bool { return emu.Logins(dev) == 1+i && emu.Connected(dev) })
		}
	}
	stop := waitSessionEvent(t, s, "acme", vocab.StateDisconnected, event.ReasonStreamReplaced+": stopped after 3 replacements within 1m0s")
	waitTenant(t, s, "acme", vocab.StateDisconnected, stop.Reason, liveWait)
	testenv.Eventually(t, liveWait, "stopped session counted", func() bool {
		return metricValue(t, w.Registry, "wabus_sessions_stream_replaced") == 1
	})
	attempts := emu.LoginAttempts(dev)

	// It stays stopped under a new worker too: the stop is recorded.
	w.Stop()
	w2 := startEmuWorker(t, s, emu, "w2", cfg)
	testenv.Eventually(t, liveWait, "w2 keeps the session stopped", func() bool {
		evs := sessionEvents(t, s, "acme")
		last := evs[len(evs)-1]
		return last.Worker == "w2" && last.State == vocab.StateDisconnected && last.Reason == stop.Reason
	})
	if n := emu.LoginAttempts(dev); n != attempts {
		t.Fatalf("%d login attempts while stopped, want %d", n, attempts)
	}

	// An operator's reconnect resumes it.
	rep, err := harness.Request(context.Background(), nc, s.Names.Ctl("acme", ctl.OpReconnect), nil, 10*time.Second)
	if err != nil || rep.Error != "" || rep.State != vocab.StateConnecting {
		t.Fatalf("reconnect reply %+v (%v), want connecting", rep, err)
	}
	testenv.Eventually(t, liveWait, "logged in after the reconnect", func() bool {
		return emu.Logins(dev) == live.ReplacedMax+1 && emu.Connected(dev)
	})
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	if n := metricValue(t, w2.Registry, "wabus_sessions_stream_replaced"); n != 0 {
		t.Fatalf("%v sessions counted stopped after the reconnect, want 0", n)
	}
}

// TestConformanceRefusedVersionIsFetchedAndLogsIn is not parallel: it
// changes whatsmeow's client version, which every login in the process
// reads.
func TestConformanceRefusedVersionIsFetchedAndLogsIn(t *testing.T) {
	old := store.GetWAVersion()
	t.Cleanup(func() { store.SetWAVersion(old) }) // after the worker stopped
	s, emu := newEmuStack(t, waemu.Config{})
	nc := s.NATS.Conn(t)
	if _, err := s.Pool.Exec(context.Background(), `INSERT INTO wabus_tenant (id) VALUES ('acme')`); err != nil {
		t.Fatal(err)
	}
	driver := wmdriver.New(wmdriver.Config{HTTPClient: emu.HTTPClient(), VersionRefresh: time.Hour}, nil)
	live := session.Liveness{OutdatedRetry: 2 * time.Second}
	startWorkerOn(t, s, "w1", session.Config{Liveness: live}, driver, driver.Run)
	dev := pairEmu(t, s, nc, emu, "acme")
	if emu.WebVersionFetches() != 1 {
		t.Fatalf("%d fetches of the web version at start, want 1", emu.WebVersionFetches())
	}

	// WhatsApp moves on: it announces a newer version and refuses older ones.
	newer := old
	newer[2] += 10
	emu.SetWebVersion(newer[2])
	emu.RequireVersion(newer[2])
	if err := emu.DropSocket(dev); err != nil {
		t.Fatal(err)
	}
	waitSessionEvent(t, s, "acme", vocab.StateDisconnected, event.ReasonClientOutdated+": ")
	testenv.Eventually(t, live.OutdatedRetry+liveWait, "logged in with the new version", func() bool {
		return emu.Logins(dev) == 2 && emu.Connected(dev)
	})
	waitTenant(t, s, "acme", vocab.StateConnected, "", liveWait)
	if got := store.GetWAVersion(); got != newer {
		t.Fatalf("client version %s, want the announced %s", got, newer)
	}
	if emu.WebVersionFetches() != 2 {
		t.Fatalf("%d fetches of the web version, want 2 (at start, after the refusal)", emu.WebVersionFetches())
	}
}
