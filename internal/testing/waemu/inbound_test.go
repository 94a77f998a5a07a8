package waemu_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// handled queues the client's message events; the handler reports failure
// (so that whatsmeow withholds the receipt) while fail says so.
type handled struct {
	msgs chan *events.Message
	fail atomic.Bool
}

// handleMessages installs a success-status handler with synchronous acks
// and the decrypted-event buffer, which lets whatsmeow hand a redelivered
// message to the handler again.
func handleMessages(h *handled) func(*client) {
	return func(c *client) {
		c.SynchronousAck = true
		c.EnableDecryptedEventBuffer = true
		c.AddEventHandlerWithSuccessStatus(func(evt any) bool {
			m, ok := evt.(*events.Message)
			if !ok {
				return true
			}
			succeed := !h.fail.Load()
			h.msgs <- m
			return succeed
		})
	}
}

func nextMessage(t *testing.T, h *handled) *events.Message {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(eventWait):
		t.Fatalf("no message event within %s", eventWait)
		return nil
	}
}

func TestInboundAckedOnlyWhenHandled(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	h := &handled{msgs: make(chan *events.Message, 16)}
	h.fail.Store(true)
	cli := pairClient(t, srv, newContainer(t), handleMessages(h))
	dev := cli.ownJID(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()

	first, second := newMessageID(), newMessageID()
	if err := srv.SendText(dev, "+51900000001", first, "hola"); err != nil {
		t.Fatalf("send first: %v", err)
	}
	m := nextMessage(t, h)
	if m.Info.ID != first || m.Message.GetConversation() != "hola" || m.Info.Sender.User != "51900000001" {
		t.Fatalf("message event %s %q from %s, want %s \"hola\" from 51900000001", m.Info.ID, m.Message.GetConversation(), m.Info.Sender, first)
	}

	h.fail.Store(false)
	if err := srv.SendText(dev, "+51900000001", second, "second"); err != nil {
		t.Fatalf("send second: %v", err)
	}
	if m := nextMessage(t, h); m.Info.ID != second || m.Message.GetConversation() != "second" {
		t.Fatalf("message event %s %q, want %s \"second\"", m.Info.ID, m.Message.GetConversation(), second)
	}
	if err := srv.WaitAcked(ctx, second); err != nil {
		t.Fatalf("second message: %v", err)
	}
	// The client handles stanzas in order, so the first is done with.
	if srv.Acked(first) {
		t.Fatal("the message whose handler failed was acknowledged")
	}

	// On reconnect the server delivers it again, and now it is handled.
	if err := srv.DropSocket(dev); err != nil {
		t.Fatalf("drop socket: %v", err)
	}
	if m := nextMessage(t, h); m.Info.ID != first || m.Message.GetConversation() != "hola" {
		t.Fatalf("redelivered message %s %q, want %s \"hola\"", m.Info.ID, m.Message.GetConversation(), first)
	}
	if err := srv.WaitAcked(ctx, first); err != nil {
		t.Fatalf("first message after redelivery: %v", err)
	}
	if n := srv.Deliveries(first); n != 2 {
		t.Fatalf("first message delivered %d times, want 2", n)
	}
}

func TestInboundRedeliveredOnTimer(t *testing.T) {
	t.Parallel()
	srv := waemu.StartConfig(t, waemu.Config{RedeliverEvery: 200 * time.Millisecond})
	h := &handled{msgs: make(chan *events.Message, 16)}
	h.fail.Store(true)
	cli := pairClient(t, srv, newContainer(t), handleMessages(h))
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()

	id := newMessageID()
	if err := srv.SendText(cli.ownJID(t), "51900000002", id, "again"); err != nil {
		t.Fatalf("send: %v", err)
	}
	nextMessage(t, h)
	h.fail.Store(false)
	if m := nextMessage(t, h); m.Info.ID != id {
		t.Fatalf("redelivered %s, want %s", m.Info.ID, id)
	}
	if err := srv.WaitAcked(ctx, id); err != nil {
		t.Fatalf("after redelivery: %v", err)
	}
}

func TestInboundWhileOfflineArrivesOnLogin(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	cli := pairClient(t, srv, container)
	dev := cli.ownJID(t)
	cli.Disconnect()

	id := newMessageID()
	// Addressed to the account: the server fans it out to its devices.
	if err := srv.SendText(dev.ToNonAD(), "+51900000003", id, "while you were away"); err != nil {
		t.Fatalf("send: %v", err)
	}
	device, err := container.GetDevice(context.Background(), dev)
	if err != nil {
		t.Fatalf("load device: %v", err)
	}
	again := newClient(t, srv, device)
	if err := again.Connect(); err != nil {
		t.Fatalf("connect: %v", err)
	}
	m := waitEvent[*events.Message](t, again)
	if m.Info.ID != id || m.Message.GetConversation() != "while you were away" {
		t.Fatalf("message %s %q, want %s", m.Info.ID, m.Message.GetConversation(), id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	if err := srv.WaitAcked(ctx, id); err != nil {
		t.Fatalf("offline message: %v", err)
	}
}

func TestInboundDocument(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	pdf := []byte("%PDF-1.4 an invoice")
	up, err := srv.UploadMedia(pdf, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatalf("upload media: %v", err)
	}
	id := newMessageID()
	doc := &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String("application/pdf"), FileName: proto.String("invoice.pdf"),
	}
	if err := srv.SendMessage(cli.ownJID(t), "+51900000004", id, &waE2E.Message{DocumentMessage: doc}); err != nil {
		t.Fatalf("send document: %v", err)
	}
	m := waitEvent[*events.Message](t, cli)
	got := m.Message.GetDocumentMessage()
	if m.Info.ID != id || got.GetFileName() != "invoice.pdf" || m.Info.MediaType != "document" {
		t.Fatalf("message %s (media type %q) with document %v, want %s invoice.pdf", m.Info.ID, m.Info.MediaType, got, id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	plain, err := cli.Download(ctx, got)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if string(plain) != string(pdf) {
		t.Fatalf("downloaded %q, want %q", plain, pdf)
	}
	if err := srv.WaitAcked(ctx, id); err != nil {
		t.Fatalf("document: %v", err)
	}
}
