package wmdriver

import (
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// A reaction's key names the chat, whether the target is the tenant's own,
// and in a group the author of someone else's message.
func TestBuildReactionKeys(t *testing.T) {
	t.Parallel()
	member := "51911111111@s.whatsapp.net"
	tests := []struct {
		name        string
		chat        string
		sender      string
		fromMe      bool
		participant string
	}{
		{"own message, direct", alice.String(), "", true, ""},
		{"contact's message, direct", alice.String(), alice.String(), false, ""},
		{"own message, group", group.String(), "", true, ""},
		{"member's message, group", group.String(), member, false, member},
	}
	for _, tt := range tests {
		msg := &wa.OutMessage{Kind: vocab.ContentReaction, Contents: event.Contents{Reaction: &event.Reaction{MessageID: "3EB0T", Emoji: "👍", Sender: tt.sender}}}
		chat := alice
		if tt.chat == group.String() {
			chat = group
		}
		m, err := buildMessage(t.Context(), msg, chat, types.EmptyJID, (&fakeUpload{}).upload)
		if err != nil {
			t.Fatal(err)
		}
		k := m.GetReactionMessage().GetKey()
		if k.GetRemoteJID() != tt.chat || k.GetFromMe() != tt.fromMe || k.GetParticipant() != tt.participant || k.GetID() != "3EB0T" ||
			m.GetReactionMessage().GetText() != "👍" || m.GetReactionMessage().GetSenderTimestampMS() == 0 {
			t.Errorf("%s: key %v", tt.name, k)
		}
	}
}

func TestBuildContents(t *testing.T) {
	t.Parallel()
	lat, long := 1.5, -2.25
	loc, _ := build(t, &wa.OutMessage{Kind: vocab.ContentLocation, ReplyTo: "3EB0Q", Contents: event.Contents{Location: &event.Location{Latitude: &lat, Longitude: &long, Name: "N"}}}, alice)
	if l := loc.GetLocationMessage(); l.GetDegreesLatitude() != lat || l.GetDegreesLongitude() != long || l.GetName() != "N" || l.Address != nil ||
		l.GetContextInfo().GetStanzaID() != "3EB0Q" {
		t.Errorf("location %v", l)
	}
	edit, _ := build(t, &wa.OutMessage{Kind: vocab.ContentEdit, Contents: event.Contents{Edit: &event.Edit{MessageID: "3EB0E", Text: "nuevo"}}}, alice)
	if p := edit.GetEditedMessage().GetMessage().GetProtocolMessage(); p.GetType() != waE2E.ProtocolMessage_MESSAGE_EDIT ||
		p.GetKey().GetID() != "3EB0E" || !p.GetKey().GetFromMe() || p.GetEditedMessage().GetConversation() != "nuevo" {
		t.Errorf("edit %v", p)
	}
	rev, _ := build(t, &wa.OutMessage{Kind: vocab.ContentRevoke, Contents: event.Contents{Revoke: &event.Revoke{MessageID: "3EB0R"}}}, alice)
	if p := rev.GetProtocolMessage(); p.GetType() != waE2E.ProtocolMessage_REVOKE || p.GetKey().GetID() != "3EB0R" || !p.GetKey().GetFromMe() {
		t.Errorf("revoke %v", p)
	}
	poll, _ := build(t, &wa.OutMessage{Kind: vocab.ContentPoll, Contents: event.Contents{Poll: &event.Poll{Question: "q", Options: []string{"a", "b"}, Multiple: true}}}, alice)
	if p := poll.GetPollCreationMessage(); p.GetName() != "q" || len(p.GetOptions()) != 2 || p.GetSelectableOptionsCount() != 0 ||
		len(poll.GetMessageContextInfo().GetMessageSecret()) != 32 {
		t.Errorf("poll %v", poll)
	}
	card, _ := build(t, &wa.OutMessage{Kind: vocab.ContentContact, Contents: event.Contents{Contact: &event.Contact{Name: "Ana", VCard: "BEGIN:VCARD\nEND:VCARD"}}}, alice)
	if c := card.GetContactMessage(); c.GetDisplayName() != "Ana" || c.GetVcard() != "BEGIN:VCARD\nEND:VCARD" {
		t.Errorf("contact %v", c)
	}
	for _, kind := range []string{vocab.ContentReaction, vocab.ContentEdit, vocab.ContentRevoke, vocab.ContentLocation, vocab.ContentContact, vocab.ContentPoll} {
		_, err := buildMessage(t.Context(), &wa.OutMessage{Kind: kind}, alice, alice, (&fakeUpload{}).upload)
		checkCode(t, err, event.CodeInvalidJob)
	}
}

// The media fields the pipeline read reach the message of each kind.
func TestBuildMediaFields(t *testing.T) {
	t.Parallel()
	wave := make([]byte, 64)
	voice, _ := build(t, &wa.OutMessage{Kind: vocab.ContentAudio, PTT: true, Media: []byte("OggS"), Mimetype: "audio/ogg", Seconds: 7, Waveform: wave}, alice)
	if a := voice.GetAudioMessage(); a.GetMimetype() != media.VoiceNoteMimetype || a.GetSeconds() != 7 || len(a.GetWaveform()) != 64 || !a.GetPTT() {
		t.Errorf("voice note %v", a)
	}
	img, _ := build(t, &wa.OutMessage{Kind: vocab.ContentImage, Media: []byte("x"), Mimetype: "image/png", Width: 640, Height: 480, Thumbnail: []byte("jpeg")}, alice)
	if i := img.GetImageMessage(); i.GetWidth() != 640 || i.GetHeight() != 480 || string(i.GetJPEGThumbnail()) != "jpeg" {
		t.Errorf("image %v", i)
	}
	vid, _ := build(t, &wa.OutMessage{Kind: vocab.ContentVideo, Media: []byte("x"), Width: 1280, Height: 720, Seconds: 9}, alice)
	if v := vid.GetVideoMessage(); v.GetWidth() != 1280 || v.GetSeconds() != 9 || v.JPEGThumbnail != nil || v.GetMimetype() != "video/mp4" {
		t.Errorf("video %v", v)
	}
	st, _ := build(t, &wa.OutMessage{Kind: vocab.ContentSticker, Media: []byte("x"), Mimetype: "image/png", Width: 512, Height: 512}, alice)
	if s := st.GetStickerMessage(); s.GetMimetype() != "image/webp" || s.GetWidth() != 512 {
		t.Errorf("sticker %v", s)
	}
	doc, _ := build(t, &wa.OutMessage{Kind: vocab.ContentDocument, Media: []byte{0, 1, 2}}, alice)
	if d := doc.GetDocumentMessage(); d.GetMimetype() != "application/octet-stream" {
		t.Errorf("document %v", d)
	}
}
