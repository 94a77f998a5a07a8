package waemu_test

import (
	"context"
	"testing"

	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// storeForgets waits until whatsmeow has deleted the device's credentials.
func storeForgets(t *testing.T, container *sqlstore.Container, jid types.JID) {
	t.Helper()
	testenv.Eventually(t, eventWait, "device still in the whatsmeow store", func() bool {
		dev, err := container.GetDevice(context.Background(), jid)
		return err == nil && dev == nil
	})
}

// serverDrops waits until the server no longer has the device connected.
func serverDrops(t *testing.T, srv *waemu.Server, jid types.JID) {
	t.Helper()
	testenv.Eventually(t, eventWait, "server still has the device connected", func() bool { return !srv.Connected(jid) })
}

func TestFail401WhileConnectedLogsOut(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	cli := pairClient(t, srv, container)
	jid := cli.ownJID(t)

	if err := srv.Fail401(jid); err != nil {
		t.Fatalf("fail 401: %v", err)
	}
	out := waitEvent[*events.LoggedOut](t, cli)
	if out.OnConnect || out.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("logged out %+v, want a stream error logout", out)
	}
	// Without credentials whatsmeow cannot reconnect.
	storeForgets(t, container, jid)
	serverDrops(t, srv, jid)
	if devs, _ := srv.Devices(jid.User); len(devs) != 1 {
		t.Fatalf("account devices %v, want only the phone", devs)
	}
}

func TestFail401OnNextLogin(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	cli := pairClient(t, srv, container)
	jid := cli.ownJID(t)
	cli.Disconnect()

	if err := srv.Fail401(jid); err != nil {
		t.Fatalf("fail 401: %v", err)
	}
	dev, err := container.GetDevice(context.Background(), jid)
	if err != nil || dev == nil {
		t.Fatalf("load device: %v", err)
	}
	again := newClient(t, srv, dev)
	if err := again.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	out := waitEvent[*events.LoggedOut](t, again)
	if !out.OnConnect || out.Reason != events.ConnectFailureLoggedOut {
		t.Fatalf("logged out %+v, want a 401 on connect", out)
	}
	storeForgets(t, container, jid)
	serverDrops(t, srv, jid)
}

func TestStreamReplaced(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)

	if err := srv.StreamReplaced(jid); err != nil {
		t.Fatalf("stream replaced: %v", err)
	}
	waitEvent[*events.StreamReplaced](t, cli)
	serverDrops(t, srv, jid)
	if got := srv.Logins(jid); got != 1 {
		t.Fatalf("device logged in %d times, want 1", got)
	}
}

func TestSecondConnectionReplacesFirst(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	first := pairClient(t, srv, container)
	jid := first.ownJID(t)

	dev, err := container.GetDevice(context.Background(), jid)
	if err != nil || dev == nil {
		t.Fatalf("load device: %v", err)
	}
	second := newClient(t, srv, dev)
	if err := second.Connect(); err != nil {
		t.Fatalf("connect second: %v", err)
	}
	waitEvent[*events.Connected](t, second)
	waitEvent[*events.StreamReplaced](t, first)
	if !srv.Connected(jid) || !second.IsLoggedIn() {
		t.Fatal("the second connection did not survive")
	}
}

func TestDropSocketReconnects(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)

	if err := srv.DropSocket(jid); err != nil {
		t.Fatalf("drop socket: %v", err)
	}
	waitEvent[*events.Disconnected](t, cli)
	waitEvent[*events.Connected](t, cli)
	if !srv.Connected(jid) || srv.Logins(jid) != 2 {
		t.Fatalf("server sees the device connected=%v after %d logins, want back after 2", srv.Connected(jid), srv.Logins(jid))
	}
}
