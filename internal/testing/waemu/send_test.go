package waemu_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

func newMessageID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

func TestSendTextAndDocument(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	to := types.NewJID("51987654321", types.DefaultUserServer)

	textID := newMessageID()
	if _, err := cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("Tu reserva ha sido confirmada")},
		whatsmeow.SendRequestExtra{ID: textID}); err != nil {
		t.Fatalf("send text: %v", err)
	}
	got, err := srv.WaitReceived(ctx, textID)
	if err != nil {
		t.Fatalf("wait for text: %v", err)
	}
	if got.Message.GetConversation() != "Tu reserva ha sido confirmada" || got.To != to || got.From != cli.ownJID(t) {
		t.Fatalf("received %+v (text %q), want the text from %s to %s", got, got.Message.GetConversation(), cli.ownJID(t), to)
	}

	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("ticket 123 "), 5000)...)
	up, err := cli.Upload(ctx, pdf, whatsmeow.MediaDocument)
	if err != nil {
		t.Fatalf("upload document: %v", err)
	}
	docID := newMessageID()
	doc := &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String("application/pdf"), FileName: proto.String("ticket_123.pdf"),
		Caption: proto.String("your ticket"),
	}
	if _, err := cli.SendMessage(ctx, to, &waE2E.Message{DocumentMessage: doc}, whatsmeow.SendRequestExtra{ID: docID}); err != nil {
		t.Fatalf("send document: %v", err)
	}
	got, err = srv.WaitReceived(ctx, docID)
	if err != nil {
		t.Fatalf("wait for document: %v", err)
	}
	gotDoc := got.Message.GetDocumentMessage()
	if gotDoc.GetFileName() != "ticket_123.pdf" || !bytes.Equal(gotDoc.GetMediaKey(), up.MediaKey) || got.MediaType != "document" {
		t.Fatalf("received document %v (media type %q), want ticket_123.pdf with the uploaded media key", gotDoc, got.MediaType)
	}

	blob, err := srv.Media(gotDoc.GetDirectPath())
	if err != nil {
		t.Fatalf("media by direct path: %v", err)
	}
	if sum := sha256.Sum256(blob); !bytes.Equal(sum[:], gotDoc.GetFileEncSHA256()) {
		t.Fatal("stored media does not match the message's encrypted hash")
	}
	plain, err := cli.Download(ctx, gotDoc)
	if err != nil {
		t.Fatalf("download received document: %v", err)
	}
	if !bytes.Equal(plain, pdf) {
		t.Fatalf("downloaded %d bytes, want the %d uploaded", len(plain), len(pdf))
	}
}

func TestSendToNumberNotOnWhatsApp(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()

	resp, err := cli.IsOnWhatsApp(ctx, []string{"+51987654321", "+99912345678"})
	if err != nil {
		t.Fatalf("is on whatsapp: %v", err)
	}
	in := map[string]bool{}
	for _, r := range resp {
		in[r.Query] = r.IsIn
	}
	if !in["+51987654321"] || in["+99912345678"] {
		t.Fatalf("is on whatsapp = %+v, want +51987654321 in and +99912345678 out", resp)
	}
	_, err = cli.SendMessage(ctx, types.NewJID("99912345678", types.DefaultUserServer),
		&waE2E.Message{Conversation: proto.String("hello?")})
	if err == nil {
		t.Fatal("send to a number not on WhatsApp succeeded")
	}
	if len(srv.Received()) != 0 {
		t.Fatalf("server received %v", srv.Received())
	}
}

func TestReceiptsReachSender(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	cli := pairClient(t, srv, newContainer(t))
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()
	id := newMessageID()
	if _, err := cli.SendMessage(ctx, types.NewJID("51911122233", types.DefaultUserServer),
		&waE2E.Message{Conversation: proto.String("hi")}, whatsmeow.SendRequestExtra{ID: id}); err != nil {
		t.Fatalf("send: %v", err)
	}
	for _, typ := range []types.ReceiptType{types.ReceiptTypeDelivered, types.ReceiptTypeRead} {
		if err := srv.SendReceipt(cli.ownJID(t), "+51911122233", string(typ), id); err != nil {
			t.Fatalf("send %q receipt: %v", typ, err)
		}
		r := waitEvent[*events.Receipt](t, cli)
		if r.Type != typ || len(r.MessageIDs) != 1 || r.MessageIDs[0] != id || r.Chat.User != "51911122233" {
			t.Fatalf("receipt event %+v, want %q for %s from 51911122233", r, typ, id)
		}
		testenv.Eventually(t, eventWait, "receipt not acknowledged", func() bool { return srv.ReceiptAcked(id, string(typ)) })
	}
}

func TestMessagesBetweenTwoPairedClients(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	alice := pairClient(t, srv, container)
	bob := pairClient(t, srv, container)
	ctx, cancel := context.WithTimeout(context.Background(), eventWait)
	defer cancel()

	id := newMessageID()
	if _, err := alice.SendMessage(ctx, bob.ownJID(t).ToNonAD(), &waE2E.Message{Conversation: proto.String("hi bob")},
		whatsmeow.SendRequestExtra{ID: id}); err != nil {
		t.Fatalf("send: %v", err)
	}
	m := waitEvent[*events.Message](t, bob)
	// whatsmeow addresses DMs by LID: the message comes from Alice's LID
	// device, with her phone number beside it.
	if m.Info.ID != id || m.Message.GetConversation() != "hi bob" || m.Info.Sender.Server != types.HiddenUserServer ||
		m.Info.SenderAlt.ToNonAD() != alice.ownJID(t).ToNonAD() {
		t.Fatalf("bob got %s %q from %s (alt %s), want %s from a LID with alt %s",
			m.Info.ID, m.Message.GetConversation(), m.Info.Sender, m.Info.SenderAlt, id, alice.ownJID(t).ToNonAD())
	}
	// Bob's phone got its copy too.
	if got, err := srv.WaitReceived(ctx, id); err != nil || got.To != bob.ownJID(t).ToNonAD() {
		t.Fatalf("phone copy %+v, %v", got, err)
	}
	if err := srv.WaitAcked(ctx, id); err != nil {
		t.Fatalf("bob's receipt: %v", err)
	}
}
