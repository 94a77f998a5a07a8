package wmdriver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

func publishJob(t testing.TB, s *testenv.Stack, tenant string, body map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.JS.Publish(context.Background(), s.Names.Send(tenant), b, jetstream.WithMsgID(body["id"].(string))); err != nil {
		t.Fatalf("publish job: %v", err)
	}
}

// sentEvents returns the sent events of tenant on the bus, by job id.
func sentEvents(t testing.TB, s *testenv.Stack, tenant string) map[string][]event.Sent {
	t.Helper()
	for _, ev := range testenv.Envelopes(t, s, tenant, vocab.EventSent) {
		var d event.Sent
		if err := json.Unmarshal(ev.Data, &d); err != nil || ev.Subject != d.JobID {
			t.Fatalf("sent event %+v: subject is not its job id", ev)
		}
	}
	return testenv.EventsBy(t, s, tenant, vocab.EventSent, func(d event.Sent) string { return d.JobID })
}

func TestConformanceSendTextAndDocumentThroughTheSendStream(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)

	const text, caption = "Tu reserva ha sido confirmada", "your ticket"
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("ticket 123 "), 5000)...)
	publishJob(t, s, "acme", map[string]any{"id": "order-8812-confirmation", "to": "+51987654321", "text": text})
	publishJob(t, s, "acme", map[string]any{"id": "order-8812-ticket", "to": "+51987654321", "text": caption,
		"document": map[string]string{
			"data":     "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf),
			"filename": "ticket_123.pdf",
		}})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	textID := job.MessageID("acme", "order-8812-confirmation")
	got, err := emu.WaitReceived(ctx, textID)
	if err != nil {
		t.Fatalf("text message %s: %v", textID, err)
	}
	if got.Message.GetConversation() != text || got.To.String() != "51987654321@s.whatsapp.net" || got.From != dev || got.Duplicate {
		t.Fatalf("recipient got %+v (text %q), want %q from %s", got, got.Message.GetConversation(), text, dev)
	}

	docID := job.MessageID("acme", "order-8812-ticket")
	got, err = emu.WaitReceived(ctx, docID)
	if err != nil {
		t.Fatalf("document message %s: %v", docID, err)
	}
	doc := got.Message.GetDocumentMessage()
	if doc == nil { // a captioned document comes wrapped, as WhatsApp clients send it
		doc = got.Message.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
	}
	if got.MediaType != "document" || doc.GetFileName() != "ticket_123.pdf" || doc.GetMimetype() != "application/pdf" ||
		doc.GetCaption() != caption || doc.GetFileLength() != uint64(len(pdf)) || got.Duplicate {
		t.Fatalf("recipient got document %v (media type %q)", doc, got.MediaType)
	}
	blob, err := emu.Media(doc.GetDirectPath())
	if err != nil {
		t.Fatalf("uploaded media: %v", err)
	}
	if sum := sha256.Sum256(blob); !bytes.Equal(sum[:], doc.GetFileEncSHA256()) {
		t.Fatal("uploaded media does not match the message's encrypted hash")
	}
	// The recipient's phone downloads and decrypts it as any client would.
	plain, err := emu.DownloadMedia(doc)
	if err != nil {
		t.Fatalf("download the document: %v", err)
	}
	if !bytes.Equal(plain, pdf) {
		t.Fatalf("recipient decrypted %d bytes, want the %d sent", len(plain), len(pdf))
	}

	testenv.Eventually(t, 30*time.Second, "sent events", func() bool { return len(sentEvents(t, s, "acme")) == 2 })
	for jobID, msgID := range map[string]string{"order-8812-confirmation": textID, "order-8812-ticket": docID} {
		evs := sentEvents(t, s, "acme")[jobID]
		if len(evs) != 1 || evs[0].MessageID != msgID || evs[0].To != "+51987654321" || evs[0].Timestamp.IsZero() {
			t.Fatalf("sent events of %s: %+v, want one with message id %s", jobID, evs, msgID)
		}
	}
	if n := len(emu.Received()); n != 2 {
		t.Fatalf("recipient got %d messages, want 2", n)
	}

	// The recipient's phone reports delivery, then reading.
	for _, typ := range []string{"delivered", "read"} {
		if err := emu.SendReceipt(dev, "+51987654321", typ, textID, docID); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, typ+" receipt acknowledged", func() bool { return emu.ReceiptAcked(textID, typ) })
	}
	testenv.Eventually(t, 30*time.Second, "receipt events", func() bool { return len(receiptEvents(t, s, "acme")) == 2 })
	for i, typ := range []string{"delivered", "read"} {
		r := receiptEvents(t, s, "acme")[i]
		if r.Type != typ || len(r.MessageIDs) != 2 || r.MessageIDs[0] != textID || r.MessageIDs[1] != docID ||
			r.Chat != "51987654321@s.whatsapp.net" || r.Sender != r.Chat || r.Timestamp.IsZero() {
			t.Fatalf("receipt event %d: %+v, want %s of both messages", i, r, typ)
		}
	}
}

// receiptEvents returns the receipt events of tenant on the bus, in order.
func receiptEvents(t testing.TB, s *testenv.Stack, tenant string) []event.Receipt {
	t.Helper()
	return testenv.Events[event.Receipt](t, s, tenant, vocab.EventReceipt)
}

func TestConformanceSendToNumberNotOnWhatsAppFails(t *testing.T) {
	t.Parallel()
	s, emu, _, _, _ := pairedAcme(t)

	publishJob(t, s, "acme", map[string]any{"id": "nobody", "to": "+99912345678", "text": "hello?"})
	testenv.Eventually(t, 30*time.Second, "failed event and dead letter", func() bool {
		return testenv.SubjectMsgs(t, s.JS, s.Names.EventsStream(), s.Names.Event("acme", vocab.EventFailed)) == 1 &&
			testenv.StreamMsgs(t, s.JS, s.Names.DLQStream()) == 1
	})
	m := testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Event("acme", vocab.EventFailed))[0]
	var ev event.Event
	var d event.Failed
	if err := json.Unmarshal(m.Data(), &ev); err != nil || json.Unmarshal(ev.Data, &d) != nil {
		t.Fatalf("bad failed event %s", m.Data())
	}
	if ev.Subject != "nobody" || d.JobID != "nobody" || d.Code != event.CodeNotOnWhatsApp || d.To != "+99912345678" {
		t.Fatalf("failed event %+v, want not_on_whatsapp for job nobody", d)
	}
	if n := len(emu.Received()); n != 0 {
		t.Fatalf("the emulator received %d messages, want none", n)
	}
}

// A send whose caller gives up while WhatsApp has yet to ack it still
// ends with WhatsApp's answer: once a message is on its way, whatsmeow
// cannot take a cancellation (giving up its wait for the ack races the
// socket reader that delivers the ack, see Send).
func TestConformanceSendOutlivesItsCancelledContext(t *testing.T) {
	t.Parallel()
	s, emu := newEmuStack(t, waemu.Config{AckDelay: time.Second})
	c := pairedConn(t, s, emu, "acme")
	id := newMessageID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		wctx, wcancel := context.WithTimeout(context.Background(), emuWait)
		defer wcancel()
		if _, err := emu.WaitReceived(wctx, id); err == nil {
			cancel() // the message reached WhatsApp; its ack is a second away
		}
	}()
	res, err := c.Send(ctx, &wa.OutMessage{ID: id, To: "51987654321@s.whatsapp.net", Kind: vocab.ContentText, Text: "hola"})
	if ctx.Err() == nil {
		t.Fatalf("the send ended (%+v, %v) before its context was cancelled", res, err)
	}
	if err != nil || res.ID != id {
		t.Fatalf("send cancelled on its way: %+v, %v; want WhatsApp's ack of %s", res, err, id)
	}
}

// pairedConn pairs a device for tenant on a connection of its own, with no
// worker, and returns the connection once it is logged in.
func pairedConn(t *testing.T, s *testenv.Stack, emu *waemu.Server, tenant string) wa.Conn {
	t.Helper()
	store := wmdriver.NewStore(s.Pool, workertest.Logger())
	t.Cleanup(func() { _ = store.Close() })
	drv := wmdriver.New(wmdriver.Config{HTTPClient: emu.HTTPClient()}, workertest.Logger())
	connected := make(chan struct{}, 1)
	c, err := drv.Open(tenant, store.NewDevice(), handlerFunc(func(ev wa.Event) bool {
		if _, ok := ev.(wa.Connected); ok {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
		return true
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), emuWait)
	defer cancel()
	qrs, err := c.PairQR(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Disconnect)
	select {
	case ev := <-qrs:
		if err := emu.ScanQR(ev.Code); err != nil {
			t.Fatalf("scan %+v: %v", ev, err)
		}
	case <-ctx.Done():
		t.Fatal("no qr code")
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("not logged in after pairing")
	}
	return c
}
