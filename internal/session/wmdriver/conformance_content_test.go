package wmdriver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/jpeg"
	"slices"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/testing/mediatest"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// contentRecipient is the emulated contact the content tests write to.
const contentRecipient = "+51987654321"

// received publishes a job and returns the message the recipient's phone
// got, with what the phone makes of it (no problems allowed).
func received(t *testing.T, s *testenv.Stack, emu *waemu.Server, body map[string]any) (waemu.Received, waemu.View) {
	t.Helper()
	if body["to"] == nil {
		body["to"] = contentRecipient
	}
	publishJob(t, s, "acme", body)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := job.MessageID("acme", body["id"].(string))
	got, err := emu.WaitReceived(ctx, id)
	if err != nil {
		t.Fatalf("job %s: %v", body["id"], err)
	}
	v := emu.PhoneView(got)
	if len(v.Problems) > 0 || got.Duplicate {
		t.Fatalf("job %s: the phone cannot show it: %v (duplicate %v)", body["id"], v.Problems, got.Duplicate)
	}
	return got, v
}

// Each v2 content kind sent through the real driver reaches the
// recipient's phone as WhatsApp's clients send it, field by field.
func TestConformanceSendEachContentKind(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	const chat = "51987654321@s.whatsapp.net"
	base, _ := received(t, s, emu, map[string]any{"id": "base", "text": "Reserva a las 8"})
	// the contact wrote too; the gateway stores it before acknowledging
	const theirs = "3EB0CONTACT0001"
	if err := emu.SendText(dev, contentRecipient, theirs, "¿a qué hora?"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := emu.WaitAcked(ctx, theirs); err != nil {
		t.Fatalf("contact's message not acknowledged: %v", err)
	}

	got, v := received(t, s, emu, map[string]any{"id": "react-own", "reaction": map[string]string{"message_id": base.ID, "emoji": "👍"}})
	r := got.Message.GetReactionMessage()
	if v.Kind != "reaction" || r.GetText() != "👍" || r.GetKey().GetID() != base.ID || !r.GetKey().GetFromMe() || r.GetKey().GetRemoteJID() != chat {
		t.Errorf("reaction to own message: %v", r)
	}
	got, v = received(t, s, emu, map[string]any{"id": "react-theirs", "reaction": map[string]string{"message_id": theirs, "emoji": "❤️"}})
	r = got.Message.GetReactionMessage()
	if v.Kind != "reaction" || r.GetText() != "❤️" || r.GetKey().GetID() != theirs || r.GetKey().GetFromMe() || r.GetKey().GetParticipant() != "" {
		t.Errorf("reaction to the contact's message: %v", r)
	}
	got, v = received(t, s, emu, map[string]any{"id": "edit", "edit": map[string]string{"message_id": base.ID, "text": "Reserva a las 9"}})
	p := got.Message.GetEditedMessage().GetMessage().GetProtocolMessage()
	if v.Kind != "edit" || p.GetKey().GetID() != base.ID || p.GetEditedMessage().GetConversation() != "Reserva a las 9" {
		t.Errorf("edit: %v", p)
	}
	got, v = received(t, s, emu, map[string]any{"id": "loc", "reply_to": theirs,
		"location": map[string]any{"latitude": -12.0464, "longitude": -77.0428, "name": "Plaza Mayor", "address": "Lima"}})
	l := got.Message.GetLocationMessage()
	if v.Kind != "location" || l.GetDegreesLatitude() != -12.0464 || l.GetDegreesLongitude() != -77.0428 || l.GetName() != "Plaza Mayor" ||
		l.GetAddress() != "Lima" || l.GetContextInfo().GetStanzaID() != theirs {
		t.Errorf("location: %v", l)
	}
	got, v = received(t, s, emu, map[string]any{"id": "card", "contact": map[string]string{"name": "Ana Pérez", "phone": "+51911122233"}})
	c := got.Message.GetContactMessage()
	if v.Kind != "contact" || c.GetDisplayName() != "Ana Pérez" || !bytes.Contains([]byte(c.GetVcard()), []byte("waid=51911122233:+51911122233")) {
		t.Errorf("contact: %v", c)
	}
	got, v = received(t, s, emu, map[string]any{"id": "poll", "poll": map[string]any{"question": "¿Hora?", "options": []string{"8", "9", "10"}}})
	pc := got.Message.GetPollCreationMessage()
	if v.Kind != "poll" || pc.GetName() != "¿Hora?" || len(pc.GetOptions()) != 3 || pc.GetOptions()[2].GetOptionName() != "10" || pc.GetSelectableOptionsCount() != 1 {
		t.Errorf("poll: %v", pc)
	}
	got, v = received(t, s, emu, map[string]any{"id": "revoke", "revoke": map[string]string{"message_id": base.ID}})
	if pm := got.Message.GetProtocolMessage(); v.Kind != "revoke" || pm.GetKey().GetID() != base.ID || !pm.GetKey().GetFromMe() {
		t.Errorf("revoke: %v", pm)
	}

	// A read mark is a read receipt for the contact's message, no message.
	publishJob(t, s, "acme", map[string]any{"id": "read", "to": contentRecipient, "read": map[string]any{"message_ids": []string{theirs}}})
	testenv.Eventually(t, 30*time.Second, "read receipt", func() bool {
		return slices.ContainsFunc(emu.ClientReceipts(), func(r waemu.ClientReceipt) bool {
			return r.Type == "read" && slices.Equal(r.IDs, []string{theirs}) && r.To.String() == chat
		})
	})
	testenv.Eventually(t, 30*time.Second, "sent events", func() bool { return len(sentEvents(t, s, "acme")) == 9 })
	for id, evs := range sentEvents(t, s, "acme") {
		want := job.MessageID("acme", id)
		if id == "read" {
			want = ""
		}
		if len(evs) != 1 || evs[0].MessageID != want {
			t.Errorf("sent events of %s: %+v, want one with message id %q", id, evs, want)
		}
	}
}

// typing_seconds shows "typing…" (or "recording…" before a voice note) in
// the chat before the message, and stops.
func TestConformanceTypingBeforeSending(t *testing.T) {
	t.Parallel()
	s, emu, _, _, _ := pairedAcme(t)
	got, _ := received(t, s, emu, map[string]any{"id": "typed", "text": "hola", "typing_seconds": 1})
	voice := mediatest.OggOpus(make([]int, 60))
	gotVoice, _ := received(t, s, emu, map[string]any{"id": "voice", "typing_seconds": 1,
		"audio": map[string]any{"data": base64.StdEncoding.EncodeToString(voice), "ptt": true}})
	states := emu.ChatStates()
	if len(states) != 4 {
		t.Fatalf("chat states %+v, want composing and paused twice", states)
	}
	for i, want := range []waemu.ChatState{{State: "composing"}, {State: "paused"}, {State: "composing", Media: "audio"}, {State: "paused", Media: ""}} {
		st := states[i]
		if st.State != want.State || st.Media != want.Media || st.To.String() != "51987654321@s.whatsapp.net" {
			t.Errorf("chat state %d: %+v, want %+v", i, st, want)
		}
	}
	if !states[1].At.Before(got.At) || !states[2].At.After(got.At) || !states[3].At.Before(gotVoice.At) {
		t.Errorf("chat states %+v not before their messages (%s, %s)", states, got.At, gotVoice.At)
	}
}

// A voice note, an image, a video, a sticker and a document carry every
// field a phone needs to show them well.
func TestConformanceMediaLooksRightOnAPhone(t *testing.T) {
	t.Parallel()
	s, emu, _, _, _ := pairedAcme(t)
	b64 := base64.StdEncoding.EncodeToString
	sizes := make([]int, 200) // 4 s
	for i := range sizes {
		sizes[i] = 5 + (i/20%2)*100
	}
	voice := mediatest.OggOpus(sizes)
	got, v := received(t, s, emu, map[string]any{"id": "voice", "audio": map[string]any{"data": "data:audio/ogg;base64," + b64(voice), "ptt": true}})
	a := got.Message.GetAudioMessage()
	if v.Kind != "audio" || !a.GetPTT() || a.GetMimetype() != "audio/ogg; codecs=opus" || a.GetSeconds() != 4 || len(a.GetWaveform()) != 64 ||
		!bytes.Equal(v.Media, voice) || got.MediaType != "ptt" {
		t.Errorf("voice note %v (media type %q)", a, got.MediaType)
	}
	png := mediatest.PNG(1024, 768)
	got, v = received(t, s, emu, map[string]any{"id": "image", "text": "la carta", "image": map[string]any{"data": b64(png)}})
	i := got.Message.GetImageMessage()
	if v.Kind != "image" || i.GetMimetype() != "image/png" || i.GetWidth() != 1024 || i.GetHeight() != 768 || i.GetCaption() != "la carta" ||
		!jpegOf(i.GetJPEGThumbnail(), 72, 54) || !bytes.Equal(v.Media, png) {
		t.Errorf("image %v", i)
	}
	mp4 := mediatest.MP4(9400, 1280, 720)
	got, v = received(t, s, emu, map[string]any{"id": "video", "video": map[string]any{"data": b64(mp4), "thumbnail": b64(mediatest.JPEG(1280, 720))}})
	vid := got.Message.GetVideoMessage()
	if v.Kind != "video" || vid.GetMimetype() != "video/mp4" || vid.GetSeconds() != 9 || vid.GetWidth() != 1280 || vid.GetHeight() != 720 ||
		!jpegOf(vid.GetJPEGThumbnail(), 72, 40) || !bytes.Equal(v.Media, mp4) {
		t.Errorf("video %v", vid)
	}
	webp := mediatest.WebP()
	got, v = received(t, s, emu, map[string]any{"id": "sticker", "sticker": map[string]any{"data": b64(webp), "mimetype": "image/png"}})
	st := got.Message.GetStickerMessage()
	if v.Kind != "sticker" || st.GetMimetype() != "image/webp" || st.GetWidth() != 1 || st.GetHeight() != 1 || !bytes.Equal(v.Media, webp) {
		t.Errorf("sticker %v", st)
	}
	pdf := []byte("%PDF-1.4\n% ticket\n")
	got, v = received(t, s, emu, map[string]any{"id": "doc", "document": map[string]any{"data": b64(pdf), "filename": "ticket.pdf"}})
	d := got.Message.GetDocumentMessage()
	if v.Kind != "document" || d.GetMimetype() != "application/pdf" || d.GetFileName() != "ticket.pdf" || d.GetFileLength() != uint64(len(pdf)) ||
		!bytes.Equal(v.Media, pdf) {
		t.Errorf("document %v", d)
	}
}

func jpegOf(b []byte, w, h int) bool {
	img, err := jpeg.Decode(bytes.NewReader(b))
	return err == nil && img.Bounds().Dx() == w && img.Bounds().Dy() == h
}
