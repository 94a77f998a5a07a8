package wmdriver

import (
	"context"
	"os"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

var msgTime = time.Date(2026, 3, 1, 8, 15, 0, 0, time.FixedZone("PET", -5*3600))

// inbound wraps msg as whatsmeow delivers it: RawMessage unwrapped into Message.
func inbound(src types.MessageSource, raw *waE2E.Message) *events.Message {
	evt := &events.Message{
		Info:       types.MessageInfo{MessageSource: src, ID: "3EB0C4F1A2B3", PushName: "Alice", Timestamp: msgTime},
		RawMessage: raw,
	}
	return evt.UnwrapRaw()
}

func direct() types.MessageSource { return types.MessageSource{Chat: alice, Sender: alice} }

func quote(id string) *waE2E.ContextInfo {
	return &waE2E.ContextInfo{StanzaID: new(id), Participant: new(ownDevice.ToNonAD().String())}
}

type wantMessage struct {
	typ, text, replyTo string
	media              *wa.InboundMedia // DownloadTo is checked separately
	download           string           // what testMapper's download returns
}

func TestMapMessageKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  *waE2E.Message
		want wantMessage
	}{
		{"conversation", &waE2E.Message{Conversation: new("hola")}, wantMessage{typ: "text", text: "hola"}},
		{"extended text reply", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: new("sí"), ContextInfo: quote("3EB0PREV")}},
			wantMessage{typ: "text", text: "sí", replyTo: "3EB0PREV"}},
		{"image", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: new("foto"), Mimetype: new("image/jpeg"), FileLength: new(uint64(2048))}},
			wantMessage{typ: "image", text: "foto", media: &wa.InboundMedia{Mimetype: "image/jpeg", Size: 2048}, download: "*waE2E.ImageMessage"}},
		{"document", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: new("ticket.pdf"), Mimetype: new("application/pdf"), FileLength: new(uint64(99)), ContextInfo: quote("3EB0Q")}},
			wantMessage{typ: "document", replyTo: "3EB0Q", media: &wa.InboundMedia{Mimetype: "application/pdf", Filename: "ticket.pdf", Size: 99}, download: "*waE2E.DocumentMessage"}},
		{"document with caption", &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			DocumentMessage: &waE2E.DocumentMessage{Title: new("menu.pdf"), Caption: new("la carta"), Mimetype: new("application/pdf"), FileLength: new(uint64(7))}}}},
			wantMessage{typ: "document", text: "la carta", media: &wa.InboundMedia{Mimetype: "application/pdf", Filename: "menu.pdf", Size: 7}, download: "*waE2E.DocumentMessage"}},
		{"voice note", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: new(true), Mimetype: new("audio/ogg; codecs=opus"), FileLength: new(uint64(5))}},
			wantMessage{typ: "audio", media: &wa.InboundMedia{Mimetype: "audio/ogg; codecs=opus", Size: 5}, download: "*waE2E.AudioMessage"}},
		{"video", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: new("gol"), Mimetype: new("video/mp4"), FileLength: new(uint64(10))}},
			wantMessage{typ: "video", text: "gol", media: &wa.InboundMedia{Mimetype: "video/mp4", Size: 10}, download: "*waE2E.VideoMessage"}},
		{"sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{Mimetype: new("image/webp"), FileLength: new(uint64(3))}},
			wantMessage{typ: "sticker", media: &wa.InboundMedia{Mimetype: "image/webp", Size: 3}, download: "*waE2E.StickerMessage"}},
		{"reaction", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: new("👍"), Key: &waCommon.MessageKey{ID: new("3EB0MINE")}}},
			wantMessage{typ: "reaction", text: "👍", replyTo: "3EB0MINE"}},
		{"location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: new(-12.0464), DegreesLongitude: new(-77.0428), Name: new("Plaza Mayor")}},
			wantMessage{typ: "location", text: "-12.0464,-77.0428\nPlaza Mayor"}},
		{"bare location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: new(1.5), DegreesLongitude: new(2.0)}},
			wantMessage{typ: "location", text: "1.5,2"}},
		{"live location", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{DegreesLatitude: new(1.25), DegreesLongitude: new(-3.5), Caption: new("en camino")}},
			wantMessage{typ: "location", text: "1.25,-3.5\nen camino"}},
		{"contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: new("Bob"), Vcard: new("BEGIN:VCARD\nFN:Bob\nEND:VCARD")}},
			wantMessage{typ: "contact", text: "BEGIN:VCARD\nFN:Bob\nEND:VCARD"}},
		{"contact without vcard", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: new("Bob")}},
			wantMessage{typ: "contact", text: "Bob"}},
		{"contacts array", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{DisplayName: new("2 contacts"),
			Contacts: []*waE2E.ContactMessage{{Vcard: new("V1")}, {DisplayName: new("Carol")}}}},
			wantMessage{typ: "contact", text: "V1\nCarol"}},
		{"poll", &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: new("¿pizza?")}}, wantMessage{typ: "poll", text: "¿pizza?"}},
		{"ephemeral text", &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{Conversation: new("efímero")}}},
			wantMessage{typ: "text", text: "efímero"}},
		{"view once image", &waE2E.Message{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Mimetype: new("image/png")}}}},
			wantMessage{typ: "image", media: &wa.InboundMedia{Mimetype: "image/png"}, download: "*waE2E.ImageMessage"}},
		{"text with sender key", &waE2E.Message{Conversation: new("primero"), SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}},
			wantMessage{typ: "text", text: "primero"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := testMapper().event(inbound(direct(), tt.raw))
			if !ok {
				t.Fatal("message not reported")
			}
			checkMessage(t, got.(wa.Message), tt.want)
		})
	}
}

func checkMessage(t *testing.T, got wa.Message, want wantMessage) {
	t.Helper()
	d := got.Data
	if d.Type != want.typ || d.Text != want.text || d.ReplyTo != want.replyTo {
		t.Errorf("type/text/reply_to = %q/%q/%q, want %q/%q/%q", d.Type, d.Text, d.ReplyTo, want.typ, want.text, want.replyTo)
	}
	if d.Media != nil {
		t.Errorf("Data.Media = %#v, want nil until the manager stores it", d.Media)
	}
	checkMedia(t, got.Media, want)
}

func checkMedia(t *testing.T, got *wa.InboundMedia, want wantMessage) {
	t.Helper()
	if (got == nil) != (want.media == nil) {
		t.Fatalf("media = %#v, want %#v", got, want.media)
	}
	if got == nil {
		return
	}
	if got.Mimetype != want.media.Mimetype || got.Filename != want.media.Filename || got.Size != want.media.Size {
		t.Errorf("media = %q %q %d, want %q %q %d", got.Mimetype, got.Filename, got.Size,
			want.media.Mimetype, want.media.Filename, want.media.Size)
	}
	f, err := os.CreateTemp(t.TempDir(), "media")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = got.DownloadTo(context.Background(), f, 1<<10)
	data, _ := os.ReadFile(f.Name())
	if err != nil || string(data) != want.download {
		t.Errorf("DownloadTo() wrote %q, %v; want %q", data, err, want.download)
	}
}

func TestMapMessageSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  types.MessageSource
		want event.Message
	}{
		{"direct", direct(), event.Message{Chat: alice.String(), Sender: alice.String()}},
		{"sender on a linked device", types.MessageSource{Chat: alice, Sender: types.NewADJID("51987654321", 0, 4)},
			event.Message{Chat: alice.String(), Sender: alice.String()}},
		{"group", types.MessageSource{Chat: group, Sender: types.NewADJID("51911111111", 0, 2), IsGroup: true},
			event.Message{Chat: group.String(), Sender: "51911111111@s.whatsapp.net", IsGroup: true}},
		{"lid addressed", types.MessageSource{Chat: aliceLID, Sender: aliceLID, SenderAlt: alice},
			event.Message{Chat: alice.String(), Sender: alice.String(), SenderLID: aliceLID.String(), ChatLID: aliceLID.String()}},
		{"lid without phone", types.MessageSource{Chat: aliceLID, Sender: aliceLID},
			event.Message{Chat: aliceLID.String(), Sender: aliceLID.String(), SenderLID: aliceLID.String(), ChatLID: aliceLID.String()}},
		{"from me", types.MessageSource{Chat: alice, Sender: ownDevice, IsFromMe: true},
			event.Message{Chat: alice.String(), Sender: "51900000001@s.whatsapp.net", FromMe: true}},
		{"from me to lid", types.MessageSource{Chat: aliceLID, Sender: ownDevice, IsFromMe: true, RecipientAlt: alice},
			event.Message{Chat: alice.String(), Sender: "51900000001@s.whatsapp.net", FromMe: true, ChatLID: aliceLID.String()}},
		{"broadcast list is not a group", types.MessageSource{Chat: types.NewJID("1234", types.BroadcastServer), Sender: alice, IsGroup: true},
			event.Message{Chat: "1234@broadcast", Sender: alice.String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := testMapper().event(inbound(tt.src, &waE2E.Message{Conversation: new("x")}))
			if !ok {
				t.Fatal("message not reported")
			}
			want := tt.want
			want.MessageID, want.PushName, want.Timestamp, want.Type, want.Text = "3EB0C4F1A2B3", "Alice", msgTime.UTC(), "text", "x"
			if d := got.(wa.Message).Data; d != want {
				t.Errorf("data = %+v\nwant   %+v", d, want)
			}
		})
	}
}

func TestMapSkipsProtocolTraffic(t *testing.T) {
	t.Parallel()
	skipped := map[string]*events.Message{
		"revoke": inbound(direct(), &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}),
		"edit": inbound(direct(), &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
			ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum()}}}}),
		"bare sender key": inbound(types.MessageSource{Chat: group, Sender: alice, IsGroup: true},
			&waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}}),
		"status update": inbound(types.MessageSource{Chat: types.StatusBroadcastJID, Sender: alice}, &waE2E.Message{Conversation: new("story")}),
		"no message":    {Info: types.MessageInfo{MessageSource: direct(), ID: "x"}},
	}
	for name, evt := range skipped {
		if got, ok := testMapper().event(evt); ok {
			t.Errorf("%s: reported as %#v", name, got)
		}
	}
}
