package waemu_test

import (
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/testing/waemu"
)

func TestPairByQRThenLoginAfterRestart(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)

	first := pairClient(t, srv, container)
	jid := first.ownJID(t)
	if jid.Device == 0 || first.Store.GetLID().IsEmpty() {
		t.Fatalf("paired as %s (lid %s), want a companion device with a LID", jid, first.Store.GetLID())
	}
	if !srv.Connected(jid) {
		t.Fatalf("server does not see %s connected", jid)
	}
	first.Disconnect()

	// A new process: a new client from the same Postgres store.
	ctx := context.Background()
	dev, err := container.GetDevice(ctx, jid)
	if err != nil || dev == nil {
		t.Fatalf("load device %s from store: %v (device %v)", jid, err, dev)
	}
	second := newClient(t, srv, dev)
	if err := second.Connect(); err != nil {
		t.Fatalf("connect restarted client: %v", err)
	}
	waitEvent[*events.Connected](t, second)
	if !second.IsLoggedIn() {
		t.Fatal("restarted client is not logged in")
	}
}

func TestPairByPhoneCode(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := newClient(t, srv, newContainer(t).NewDevice())
	if err := cli.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	waitEvent[*events.QR](t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	code, err := cli.PairPhone(ctx, "+51 987 000 111", true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("pair phone: %v", err)
	}

	if _, err := srv.EnterPairingCode("+51987000111", "ZZZZ-ZZZZ"); !errors.Is(err, waemu.ErrPairRejected) {
		t.Fatalf("wrong code: err = %v, want ErrPairRejected", err)
	}
	jid, err := srv.EnterPairingCode("+51987000111", code)
	if err != nil {
		t.Fatalf("enter code %s: %v", code, err)
	}
	ps := waitEvent[*events.PairSuccess](t, cli)
	if ps.ID != jid || jid.User != "51987000111" || jid.Device == 0 {
		t.Fatalf("paired as %s, server says %s; want a companion of 51987000111", ps.ID, jid)
	}
	waitEvent[*events.Connected](t, cli)
}

func TestScanQRRejectsUnknownCodes(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	link := "https://wa.me/settings/linked_devices#"
	for code, want := range map[string]error{
		"":                      waemu.ErrBadQR,
		link + "ref,only,three": waemu.ErrBadQR,
		link + "2@ref," + key + "," + key + ",!!!,1": waemu.ErrBadQR,
		// The old format (no link, no client type) is refused, as today's phones do.
		"2@nobody," + key + "," + key + ",c2VjcmV0":          waemu.ErrBadQR,
		link + "2@nobody," + key + "," + key + ",c2VjcmV0,1": waemu.ErrNotPairing,
	} {
		if err := srv.ScanQR(code); !errors.Is(err, want) {
			t.Errorf("ScanQR(%q) = %v, want %v", code, err, want)
		}
	}
	if _, err := srv.EnterPairingCode("+51987000222", "ABCD-EFGH"); !errors.Is(err, waemu.ErrNotPairing) {
		t.Errorf("EnterPairingCode with nobody pairing = %v, want ErrNotPairing", err)
	}
}

func TestLogoutUnlinksDevice(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	jid := cli.ownJID(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	if err := cli.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	devs, err := srv.Devices(jid.User)
	if err != nil || len(devs) != 1 {
		t.Fatalf("account devices after logout = %v, %v; want only the phone", devs, err)
	}
	if err := srv.SendText(jid, "+51900000009", "3EB0DEAD", "anyone?"); !errors.Is(err, waemu.ErrUnknownDevice) {
		t.Fatalf("send to logged-out device: %v, want ErrUnknownDevice", err)
	}
}
