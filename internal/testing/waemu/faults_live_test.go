package waemu_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// whatsmeow pings every 20-30s and gives each ping 10s; these tests ping
// every second or two, so that a silent socket shows in seconds. The
// values are process globals, set before any client exists.
func init() {
	whatsmeow.KeepAliveIntervalMin = time.Second
	whatsmeow.KeepAliveIntervalMax = 2 * time.Second
	whatsmeow.KeepAliveResponseDeadline = 2 * time.Second
}

func TestHalfOpenSilencesKeepalivesButKeepsTheSocket(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)

	before := time.Now()
	if err := srv.HalfOpen(jid); err != nil {
		t.Fatalf("half open: %v", err)
	}
	ka := waitEvent[*events.KeepAliveTimeout](t, cli)
	if ka.ErrorCount < 1 || ka.LastSuccess.After(before) {
		t.Fatalf("keepalive timeout %+v, want failures since before %s", ka, before)
	}
	if !cli.IsConnected() || !srv.Connected(jid) {
		t.Fatalf("socket closed (client %v, server %v); a half-open socket stays open", cli.IsConnected(), srv.Connected(jid))
	}
	// A new login replaces the silent connection.
	cli.Disconnect()
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect again: %v", err)
	}
	waitEvent[*events.Connected](t, cli)
	if srv.Logins(jid) != 2 {
		t.Fatalf("%d logins, want 2", srv.Logins(jid))
	}
}

func TestSilencedLoginIsNeverAnswered(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)
	cli.Disconnect()

	srv.SilenceLogins(jid, 1)
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	// The login goes unanswered (no Connected): keepalives fail on a
	// socket that is up.
	deadline := time.After(eventWait)
	for timedOut := false; !timedOut; {
		select {
		case evt := <-cli.events:
			switch evt.(type) {
			case *events.Connected:
				t.Fatal("the silenced login was answered")
			case *events.KeepAliveTimeout:
				timedOut = true
			}
		case <-deadline:
			t.Fatalf("no keepalive timeout within %s", eventWait)
		}
	}
	if !cli.IsConnected() || srv.Connected(jid) || srv.LoginAttempts(jid) != 2 {
		t.Fatalf("client socket up %v, server connected %v after %d login attempts; want an unanswered second attempt",
			cli.IsConnected(), srv.Connected(jid), srv.LoginAttempts(jid))
	}
	cli.Disconnect()
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect again: %v", err)
	}
	waitEvent[*events.Connected](t, cli)
}

func TestClientOutdatedRefusesLogins(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)

	srv.ClientOutdated(jid) // closes the socket; whatsmeow reconnects by itself
	waitEvent[*events.ClientOutdated](t, cli)
	serverDrops(t, srv, jid)
	if srv.LoginAttempts(jid) != 2 || srv.Logins(jid) != 1 {
		t.Fatalf("%d login attempts, %d logins; want a second attempt refused", srv.LoginAttempts(jid), srv.Logins(jid))
	}
	srv.AllowLogins(jid)
	cli.Disconnect()
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitEvent[*events.Connected](t, cli)
}

func TestRequireVersionRefusesOlderClients(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)
	cli.Disconnect()

	srv.RequireVersion(store.GetWAVersion()[2] + 1)
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitEvent[*events.ClientOutdated](t, cli)
	srv.RequireVersion(store.GetWAVersion()[2])
	cli.disconnect()
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitEvent[*events.Connected](t, cli)
	if srv.LoginAttempts(jid) != 3 {
		t.Fatalf("%d login attempts, want 3", srv.LoginAttempts(jid))
	}
}

func TestTemporaryBan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		expire time.Duration
	}{{"without expiry", 0}, {"with expiry", time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := waemu.Start(t)
			cli := pairClient(t, srv, newContainer(t))
			jid := cli.ownJID(t)

			srv.TemporaryBan(jid, int(events.TempBanBlockedByUsers), tc.expire)
			ban := waitEvent[*events.TemporaryBan](t, cli)
			if ban.Code != events.TempBanBlockedByUsers || ban.Expire > tc.expire || ban.Expire < tc.expire-time.Minute {
				t.Fatalf("ban %+v, want code %d expiring in about %s", ban, events.TempBanBlockedByUsers, tc.expire)
			}
			serverDrops(t, srv, jid)
			srv.AllowLogins(jid)
			cli.Disconnect()
			if err := cli.Connect(); err != nil {
				t.Fatalf("connect: %v", err)
			}
			waitEvent[*events.Connected](t, cli)
		})
	}
}

func TestTemporaryBanLiftsWhenItExpires(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)

	srv.TemporaryBan(jid, int(events.TempBanSentToTooManyPeople), time.Second)
	ban := waitEvent[*events.TemporaryBan](t, cli)
	if ban.Expire != time.Second {
		t.Fatalf("ban expires in %s, want 1s", ban.Expire)
	}
	// Logins before the expiry are refused; the first one after it
	// succeeds, with no AllowLogins.
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	time.Sleep(ban.Expire) // the client waits out the ban, as the session manager does
	cli.Disconnect()
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect after the ban: %v", err)
	}
	waitEvent[*events.Connected](t, cli)
	if err := srv.WaitConnected(ctx, jid); err != nil {
		t.Fatal(err)
	}
}

func TestWebVersionPage(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()

	ver, err := whatsmeow.GetLatestVersion(ctx, srv.HTTPClient())
	if err != nil || *ver != store.GetWAVersion() {
		t.Fatalf("default page: %v, %v; want whatsmeow's own %v", ver, err, store.GetWAVersion())
	}
	srv.SetWebVersion(1045000123)
	ver, err = whatsmeow.GetLatestVersion(ctx, srv.HTTPClient())
	if err != nil || *ver != (store.WAVersionContainer{2, 3000, 1045000123}) {
		t.Fatalf("page: %v, %v; want 2.3000.1045000123", ver, err)
	}
	srv.FailWebVersion(http.StatusServiceUnavailable)
	if ver, err = whatsmeow.GetLatestVersion(ctx, srv.HTTPClient()); err == nil {
		t.Fatalf("failing page gave %v, want an error", ver)
	}
	if n := srv.WebVersionFetches(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}
