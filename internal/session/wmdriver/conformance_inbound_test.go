package wmdriver_test

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/vocab"
)

// privateEmuStack is NewEmuStack on a private Postgres cluster that the
// test may stop and start.
func privateEmuStack(t *testing.T) (*testenv.Stack, *testenv.Cluster, *waemu.Server) {
	t.Helper()
	s, cluster := testenv.NewPrivateStack(t)
	migrate(t, s)
	return s, cluster, waemu.StartConfig(t, waemu.Config{})
}

// Postgres goes down while an inbound message is being stored: every
// attempt fails, so the session drops the connection, and the message,
// never acknowledged, comes back on the next login once Postgres is up.
// Nothing else reconnects the session (the lease outlives the outage and
// the emulator redelivers only on login).
func TestConformanceInboundComesBackAfterPostgresOutage(t *testing.T) {
	t.Parallel()
	s, cluster, emu := privateEmuStack(t)
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	var once sync.Once
	w := startEmuWorkerHooked(t, s, emu, "w1", session.Config{LeaseTTL: time.Minute}, func(string) bool {
		once.Do(func() { // the message is decrypted; storing it is next
			if err := cluster.Cluster.Stop(); err != nil {
				t.Errorf("stop postgres: %v", err)
			}
		})
		return true
	})
	dev := pairEmu(t, s, nc, emu, "acme")

	id := newMessageID()
	if err := emu.SendText(dev, "+51987654321", id, "hola"); err != nil {
		t.Fatal(err)
	}
	failures := func() float64 {
		return metricValue(t, w.Registry, "wabus_inbound_store_failures_total", "kind", vocab.EventMessage.Token)
	}
	testenv.Eventually(t, emuWait, "three failed attempts at storing the message", func() bool { return failures() >= session.InboundAttempts })
	if emu.Acked(id) {
		t.Fatal("a message that could not be stored was acknowledged")
	}
	cluster.Start()

	waitEmu(t, "message acknowledged once stored", func(ctx context.Context) error { return emu.WaitAcked(ctx, id) })
	testenv.Eventually(t, emuWait, "message event", func() bool { return len(messageEvents(t, s, "acme")[id]) > 0 })
	if evs := messageEvents(t, s, "acme")[id]; len(evs) != 1 || evs[0].Text != "hola" {
		t.Fatalf("message events %+v, want one with the text", evs)
	}
	if n := emu.Deliveries(id); n != 2 {
		t.Fatalf("message delivered %d times, want 2 (first delivery, then the login after the outage)", n)
	}
	if n := emu.Logins(dev); n != 2 {
		t.Fatalf("device logged in %d times, want 2", n)
	}
	testenv.WaitState(t, s, "acme", vocab.StateConnected)
}

// documentMessage is a document message for an upload, declaring size.
func documentMessage(up whatsmeow.UploadResponse, size uint64) *waE2E.Message {
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(size),
		Mimetype: proto.String("application/pdf"), FileName: proto.String("invoice.pdf"),
	}}
}

// Attachments that can never be had do not hold their messages back: each
// message is stored and acknowledged, its event names the reason in
// media_error, and an expired attachment is requested again from the phone.
func TestConformanceInboundMediaThatCannotBeHadArrivesWithMediaError(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{})
	nc := s.NATS.Conn(t)
	createTenant(t, s, "acme")
	const limit = 4 << 10
	startEmuWorker(t, s, emu, "w1", session.Config{InboundMediaMax: limit})
	dev := pairEmu(t, s, nc, emu, "acme")

	small := []byte("%PDF-1.4 an invoice")
	large := bytes.Repeat([]byte("%PDF-1.4 a catalogue "), 2*limit/20)
	tests := []struct {
		name    string
		content []byte
		size    uint64 // declared; 0 for the real size
		fault   func(path string) error
		want    string // media_error, "" when stored
	}{
		{"stored", small, 0, nil, ""},
		{"expired 404", small, 0, func(p string) error { return emu.FailMedia(p, http.StatusNotFound) }, event.MediaExpired},
		{"expired 410", small, 0, func(p string) error { return emu.FailMedia(p, http.StatusGone) }, event.MediaExpired},
		{"hash mismatch", small, 0, emu.CorruptMedia, event.MediaCorrupt},
		{"declared over the limit", large, 0, nil, event.MediaTooLarge},
		{"over the limit, declared under it", large, 100, nil, event.MediaTooLarge},
	}
	ids := make([]string, len(tests))
	for i, tt := range tests {
		up, err := emu.UploadMedia(tt.content, whatsmeow.MediaDocument)
		if err != nil {
			t.Fatal(err)
		}
		if tt.fault != nil {
			if err := tt.fault(up.DirectPath); err != nil {
				t.Fatal(err)
			}
		}
		ids[i] = newMessageID()
		if err := emu.SendMessage(dev, "+51987654321", ids[i], documentMessage(up, cmp.Or(tt.size, up.FileLength))); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range tests {
		waitEmu(t, tt.name+": message acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, ids[i]) })
	}
	testenv.Eventually(t, emuWait, "message events", func() bool { return len(messageEvents(t, s, "acme")) == len(tests) })
	evs := messageEvents(t, s, "acme")
	for i, tt := range tests {
		got := evs[ids[i]]
		if len(got) != 1 {
			t.Fatalf("%s: %d events, want 1", tt.name, len(got))
		}
		m := got[0]
		if m.Type != "document" || m.MediaError != tt.want || (m.Media != nil) != (tt.want == "") {
			t.Errorf("%s: event type %q, media %+v, media_error %q; want media_error %q", tt.name, m.Type, m.Media, m.MediaError, tt.want)
		}
	}
	checkInboundDocument(t, s, evs[ids[0]][0], small)
	if got, want := emu.MediaRetries(), []string{ids[1], ids[2]}; !slices.Equal(got, want) {
		t.Fatalf("media retry requests for %v, want the expired ones %v", got, want)
	}
}

// A message the client cannot decrypt, or that reaches it as unavailable,
// is asked for again, from the sender (retry receipt) and from the
// account's phone (placeholder resend); whichever copy comes back is
// stored once, and the failure itself reaches no subscriber.
func TestConformanceUndecryptableMessagesAreAskedForAgain(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	text := func(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }
	resent, silent, unavailable := newMessageID(), newMessageID(), newMessageID()
	// the sender answers the retry receipt
	if err := emu.SendUndecryptable(dev, "+51911111111", resent, text("resent by the sender"), true); err != nil {
		t.Fatal(err)
	}
	// the sender's phone is offline: only the account's phone can help
	if err := emu.SendUndecryptable(dev, "+51922222222", silent, text("from the phone"), false); err != nil {
		t.Fatal(err)
	}
	if err := emu.SendUnavailable(dev, "+51933333333", unavailable, text("unavailable here")); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{resent: "resent by the sender", silent: "from the phone", unavailable: "unavailable here"}
	testenv.Eventually(t, emuWait, "the three messages as events", func() bool {
		evs := messageEvents(t, s, "acme")
		return len(evs[resent]) > 0 && len(evs[silent]) > 0 && len(evs[unavailable]) > 0
	})
	evs := messageEvents(t, s, "acme")
	if len(evs) != len(want) {
		t.Fatalf("message events for %d messages, want %d (nothing for the failures themselves): %+v", len(evs), len(want), evs)
	}
	for id, body := range want {
		if got := evs[id]; len(got) != 1 || got[0].Text != body || got[0].Type != "text" {
			t.Errorf("events of %s: %+v, want one text %q", id, got, body)
		}
	}
	if emu.RetryReceipts(resent) == 0 || emu.RetryReceipts(silent) == 0 {
		t.Errorf("retry receipts: %d and %d, want the sender asked for each undecryptable message", emu.RetryReceipts(resent), emu.RetryReceipts(silent))
	}
	if emu.PhoneRequests(silent) == 0 || emu.PhoneRequests(unavailable) == 0 {
		t.Errorf("phone requests: %d and %d, want the phone asked for both", emu.PhoneRequests(silent), emu.PhoneRequests(unavailable))
	}
}

// An attachment whose download keeps failing (the media server answers an
// error no retry cures) holds its message back for a few deliveries only:
// each failed delivery drops the connection so that WhatsApp delivers the
// message again, and after session.MediaAttempts failed downloads it is stored
// without the attachment, media_error unavailable.
func TestConformanceInboundMediaThatNeverDownloadsIsGivenUp(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	up, err := emu.UploadMedia([]byte("%PDF-1.4 an invoice"), whatsmeow.MediaDocument)
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.FailMedia(up.DirectPath, http.StatusBadRequest); err != nil {
		t.Fatal(err)
	}
	id := newMessageID()
	if err := emu.SendMessage(dev, "+51987654321", id, documentMessage(up, up.FileLength)); err != nil {
		t.Fatal(err)
	}
	waitEmu(t, "message acknowledged", func(ctx context.Context) error { return emu.WaitAcked(ctx, id) })
	testenv.Eventually(t, emuWait, "message event", func() bool { return len(messageEvents(t, s, "acme")[id]) > 0 })
	m := messageEvents(t, s, "acme")[id]
	if len(m) != 1 || m[0].MediaError != event.MediaUnavailable || m[0].Media != nil {
		t.Fatalf("events %+v, want one with media_error unavailable", m)
	}
	if n := emu.Deliveries(id); n != session.MediaAttempts/session.InboundAttempts {
		t.Fatalf("message delivered %d times, want %d", n, session.MediaAttempts/session.InboundAttempts)
	}
	testenv.WaitState(t, s, "acme", vocab.StateConnected)
}
