package wmdriver_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

func TestConformancePairByQRAndRestoreAfterRestart(t *testing.T) {
	t.Parallel()
	s, emu, _, w, dev := pairedAcme(t)
	if testenv.Device(t, s, "acme") != dev.String() || dev.Device == 0 {
		t.Fatalf("device_jid %q, want the companion device %s", testenv.Device(t, s, "acme"), dev)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, dev.String()); n != 1 {
		t.Fatalf("%d whatsmeow devices stored for %s, want 1", n, dev)
	}
	if !emu.Connected(dev) || emu.Logins(dev) != 1 {
		t.Fatalf("emulator: connected %v after %d logins, want connected after 1", emu.Connected(dev), emu.Logins(dev))
	}

	w.Stop()
	if st := testenv.State(t, s, "acme"); st != vocab.StateDisconnected {
		t.Fatalf("state after a clean stop = %s, want disconnected", st)
	}
	testenv.Eventually(t, emuWait, "emulator sees the device go", func() bool { return !emu.Connected(dev) })

	// A new manager with a new driver and store: the device comes from Postgres.
	startEmuWorker(t, s, emu, "w1", session.Config{})
	waitEmu(t, "device logs in again", func(ctx context.Context) error { return emu.WaitConnected(ctx, dev) })
	testenv.WaitState(t, s, "acme", vocab.StateConnected)
	if n := emu.Logins(dev); n != 2 {
		t.Fatalf("device logged in %d times, want 2 (pairing, restore)", n)
	}
	if got := testenv.Device(t, s, "acme"); got != dev.String() {
		t.Fatalf("device after restart = %s, want the paired %s", got, dev)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device`); n != 1 {
		t.Fatalf("%d devices stored, want 1 (no new pairing)", n)
	}
	testenv.Eventually(t, 10*time.Second, "session events published", func() bool {
		st := statesSeen(t, s, "acme")
		return count(st, vocab.StateConnected) == 2 && st[len(st)-1] == vocab.StateConnected
	})
	evs := sessionEvents(t, s, "acme")
	if n := count(statesSeen(t, s, "acme"), vocab.StatePairing); n != 1 {
		t.Fatalf("pairing %d times in %+v, want once", n, evs)
	}
	if last := evs[len(evs)-1]; last.JID != dev.String() || last.Worker != "w1" {
		t.Fatalf("last session event %+v, want connected as %s on w1", last, dev)
	}
}

func newMessageID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

// storedBeforeAck reports whether the message event with id was committed:
// it is still in the outbox, or already on the bus (the relay publishes a
// row before deleting it, so the outbox is read first).
func storedBeforeAck(t testing.TB, s *testenv.Stack, tenant, chat, sender, id string) bool {
	t.Helper()
	evID := event.StableID(tenant, vocab.EventMessage.Token, chat, sender, id)
	if testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_outbox WHERE event_id = $1`, evID) > 0 {
		return true
	}
	return len(messageEvents(t, s, tenant)[id]) > 0
}

func TestConformanceInboundIsAcknowledgedOnlyOnceStored(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{})
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	// The first inbound message cannot be stored: the handler answers
	// that it was not.
	var calls atomic.Int32
	startEmuWorkerHooked(t, s, emu, "w1", session.Config{}, func(string) bool { return calls.Add(1) > 1 })
	dev := pairEmu(t, s, nc, emu, "acme")
	const contact = "51987654321@s.whatsapp.net"
	if err := emu.SetPushName("+51987654321", "Ana"); err != nil {
		t.Fatal(err)
	}
	first := newMessageID()
	if err := emu.SendText(dev, "+51987654321", first, "hola"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, emuWait, "first delivery handled", func() bool { return calls.Load() == 1 })

	// A second message, a document, is stored and acknowledged; the client
	// handles stanzas in order, so by then the first one had its answer.
	pdf := []byte("%PDF-1.4 an invoice")
	up, err := emu.UploadMedia(pdf, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatal(err)
	}
	second := newMessageID()
	doc := &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String("application/pdf"), FileName: proto.String("invoice.pdf"),
	}
	if err := emu.SendMessage(dev, "+51987654321", second, &waE2E.Message{DocumentMessage: doc}); err != nil {
		t.Fatal(err)
	}
	waitEmu(t, "second message acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, second) })
	if !storedBeforeAck(t, s, "acme", contact, contact, second) {
		t.Fatal("second message acknowledged to whatsapp before its event was committed")
	}
	if emu.Acked(first) {
		t.Fatal("the message that could not be stored was acknowledged")
	}
	if len(messageEvents(t, s, "acme")[first]) != 0 {
		t.Fatal("the message that could not be stored is on the bus")
	}

	// On reconnect the emulator delivers it again; now it is stored.
	if err := emu.DropSocket(dev); err != nil {
		t.Fatal(err)
	}
	waitEmu(t, "first message acknowledged after redelivery", func(ctx context.Context) error { return emu.WaitAcked(ctx, first) })
	if !storedBeforeAck(t, s, "acme", contact, contact, first) {
		t.Fatal("first message acknowledged to whatsapp before its event was committed")
	}
	if n := emu.Deliveries(first); n != 2 {
		t.Fatalf("first message delivered %d times, want 2", n)
	}
	testenv.Eventually(t, 10*time.Second, "both message events", func() bool {
		evs := messageEvents(t, s, "acme")
		return len(evs[first]) > 0 && len(evs[second]) > 0
	})
	evs := messageEvents(t, s, "acme")
	if len(evs[first]) != 1 || len(evs[second]) != 1 {
		t.Fatalf("events per message: first %d, second %d; want exactly one each", len(evs[first]), len(evs[second]))
	}
	m := evs[first][0]
	if m.MessageID != first || m.Chat != contact || m.Sender != contact || m.PushName != "Ana" || m.Type != "text" ||
		m.Text != "hola" || m.IsGroup || m.FromMe || m.Timestamp.IsZero() || m.Media != nil {
		t.Fatalf("text message event %+v", m)
	}
	checkInboundDocument(t, s, evs[second][0], pdf)
	testenv.WaitState(t, s, "acme", vocab.StateConnected)
}

// checkInboundDocument checks a document's event and its stored bytes.
func checkInboundDocument(t *testing.T, s *testenv.Stack, m event.Message, pdf []byte) {
	t.Helper()
	sum := sha256.Sum256(pdf)
	if m.Type != "document" || m.Media == nil || m.Media.Filename != "invoice.pdf" || m.Media.Mimetype != "application/pdf" ||
		m.Media.Size != int64(len(pdf)) || m.Media.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("document event %+v (media %+v)", m, m.Media)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := s.JS.ObjectStore(ctx, s.Names.InboundMediaBucket())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := store.Get(ctx, m.Media.Object)
	if err != nil {
		t.Fatalf("inbound media %s: %v", m.Media.Object, err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil || string(got) != string(pdf) {
		t.Fatalf("stored media %q, %v; want %q", got, err, pdf)
	}
}

func TestConformanceLoggedOutWhileConnected(t *testing.T) {
	t.Parallel()
	s, emu, nc, w, dev := pairedAcme(t)

	if err := emu.Fail401(dev); err != nil {
		t.Fatal(err)
	}
	checkLoggedOut(t, s, w, "acme", dev.String())
	if n := emu.Logins(dev); n != 1 {
		t.Fatalf("device logged in %d times, want 1 (no reconnect after a logout)", n)
	}
	if emu.Connected(dev) {
		t.Fatal("the logged-out device is still connected")
	}
	if rep := ask(t, nc, s.Names.Ctl("acme", ctl.OpReconnect), nil); rep.Code != ctl.CodeNotPaired {
		t.Fatalf("reconnect after logout = %+v, want not_paired", rep)
	}
}

func TestConformanceLoggedOutWhileOffline(t *testing.T) {
	t.Parallel()
	s, emu, _, w, dev := pairedAcme(t)
	w.Stop()
	testenv.Eventually(t, emuWait, "emulator sees the device go", func() bool { return !emu.Connected(dev) })

	// Removed from the phone while no worker was connected: the next login
	// is refused with 401.
	if err := emu.Fail401(dev); err != nil {
		t.Fatal(err)
	}
	w = startEmuWorker(t, s, emu, "w1", session.Config{})
	checkLoggedOut(t, s, w, "acme", dev.String())
	if n := emu.Logins(dev); n != 1 {
		t.Fatalf("device logged in %d times, want 1", n)
	}
}

// checkLoggedOut waits for tenant to be logged out: credentials deleted,
// the session ended with its lease, no reconnect attempted.
func checkLoggedOut(t *testing.T, s *testenv.Stack, w *emuWorker, tenant, dev string) {
	t.Helper()
	testenv.WaitState(t, s, tenant, vocab.StateLoggedOut)
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM whatsmeow_device WHERE jid = $1`, dev); n != 0 {
		t.Fatal("device credentials still stored after the logout")
	}
	if testenv.Device(t, s, tenant) != "" {
		t.Fatal("tenant still points at a device")
	}
	testenv.Eventually(t, 10*time.Second, "session ended and lease released", func() bool {
		return metricValue(t, w.Registry, "wabus_sessions") == 0 && testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_lease`) == 0
	})
	testenv.Eventually(t, 10*time.Second, "logged_out event on the bus", func() bool {
		return hasState(sessionEvents(t, s, tenant), vocab.StateLoggedOut)
	})
	if n := metricValue(t, w.Registry, "wabus_session_reconnects_total"); n != 0 {
		t.Fatalf("%v reconnect attempts after a logout", n)
	}
	if n := metricValue(t, w.Registry, "wabus_session_logouts_total"); n != 1 {
		t.Fatalf("logouts counted %v, want 1", n)
	}
}

func TestConformanceStreamReplacedBacksOffOnce(t *testing.T) {
	t.Parallel()
	s, emu, _, w, dev := pairedAcme(t)

	const replacements = 2
	for i := 1; i <= replacements; i++ {
		if err := emu.StreamReplaced(dev); err != nil {
			t.Fatalf("replacement %d: %v", i, err)
		}
		// Our lease holds, so the session comes back, once, after a backoff.
		testenv.Eventually(t, emuWait, "back after replacement", func() bool { return emu.Logins(dev) == 1+i && emu.Connected(dev) })
		testenv.Eventually(t, emuWait, "connected again, replacement recorded", func() bool {
			evs := sessionEvents(t, s, "acme")
			return len(evs) > 0 && evs[len(evs)-1].State == vocab.StateConnected && hasReason(evs, replacedReason(i))
		})
	}
	testenv.WaitState(t, s, "acme", vocab.StateConnected)
	if n := emu.Logins(dev); n != 1+replacements {
		t.Fatalf("device logged in %d times, want %d: one per replacement, no ping-pong", n, 1+replacements)
	}
	if n := metricValue(t, w.Registry, "wabus_session_reconnects_total"); n != replacements {
		t.Fatalf("reconnect attempts %v, want %d", n, replacements)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT reconnects FROM wabus_tenant WHERE id = 'acme'`); n != replacements {
		t.Fatalf("reconnects = %d, want %d", n, replacements)
	}
}

// replacedReason is the reason of the n-th replacement under the default
// Liveness (3 within 10m stop the session).
func replacedReason(n int) string {
	return "stream_replaced: another connection of this device took over (" + strconv.Itoa(n) + " of 3 within 10m0s stop the session)"
}

func hasReason(evs []event.Session, reason string) bool {
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func TestConformanceDroppedSocketReconnectsByItself(t *testing.T) {
	t.Parallel()
	s, emu, _, w, dev := pairedAcme(t)

	if err := emu.DropSocket(dev); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, emuWait, "logged in again", func() bool { return emu.Logins(dev) == 2 && emu.Connected(dev) })
	testenv.Eventually(t, emuWait, "connected again", func() bool {
		return testenv.State(t, s, "acme") == vocab.StateConnected &&
			testenv.QueryInt(t, s.Pool, `SELECT reconnects FROM wabus_tenant WHERE id = 'acme'`) == 1
	})
	if n := metricValue(t, w.Registry, "wabus_session_reconnects_total"); n != 1 {
		t.Fatalf("reconnect metric = %v, want 1", n)
	}
	testenv.Eventually(t, 10*time.Second, "disconnected and connected events", func() bool {
		st := statesSeen(t, s, "acme")
		return count(st, vocab.StateDisconnected) == 1 && count(st, vocab.StateConnected) == 2 && st[len(st)-1] == vocab.StateConnected
	})
}
