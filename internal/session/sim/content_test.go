package sim_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testing/mediatest"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// A simulated contact sends each content object of a send job, from a
// phone-addressed and from a LID-addressed chat; the message event has
// its type, its object and the v1 text.
func TestSimInboundContents(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	workertest.Pair(t, s, nc, "acme")
	lat, long := -12.0464, -77.0428
	png := mediatest.PNG(20, 10)
	pngSum := sha256.Sum256(png)
	vcard := "BEGIN:VCARD\nVERSION:3.0\nN:;Ana;;;\nFN:Ana\nTEL;type=CELL;waid=51911122233:+51911122233\nEND:VCARD"
	tests := []struct {
		name string
		body map[string]any
		want event.Message
	}{
		{"reaction", map[string]any{"reaction": map[string]string{"message_id": "3EB0MINE", "emoji": "👍"}},
			event.Message{Type: "reaction", Text: "👍", ReplyTo: "3EB0MINE", Reaction: &event.Reaction{MessageID: "3EB0MINE", Emoji: "👍"}}},
		{"edit", map[string]any{"edit": map[string]string{"message_id": "3EB0THEIRS", "text": "a las 9"}},
			event.Message{Type: "edit", Text: "a las 9", ReplyTo: "3EB0THEIRS", Edit: &event.Edit{MessageID: "3EB0THEIRS", Text: "a las 9"}}},
		{"revoke", map[string]any{"revoke": map[string]string{"message_id": "3EB0THEIRS"}},
			event.Message{Type: "revoke", ReplyTo: "3EB0THEIRS", Revoke: &event.Revoke{MessageID: "3EB0THEIRS"}}},
		{"location", map[string]any{"location": map[string]any{"latitude": lat, "longitude": long, "name": "Plaza Mayor"}, "reply_to": "3EB0MINE"},
			event.Message{Type: "location", Text: "-12.0464,-77.0428\nPlaza Mayor", ReplyTo: "3EB0MINE", Location: &event.Location{Latitude: &lat, Longitude: &long, Name: "Plaza Mayor"}}},
		{"contact", map[string]any{"contact": map[string]string{"name": "Ana", "phone": "+51911122233"}},
			event.Message{Type: "contact", Text: vcard, Contact: &event.Contact{Name: "Ana", Phone: "+51911122233", VCard: vcard}}},
		{"poll", map[string]any{"poll": map[string]any{"question": "¿Hora?", "options": []string{"8", "9"}}},
			event.Message{Type: "poll", Text: "¿Hora?", Poll: &event.Poll{Question: "¿Hora?", Options: []string{"8", "9"}}}},
		{"image", map[string]any{"text": "foto", "image": map[string]string{"data": base64.StdEncoding.EncodeToString(png)}},
			event.Message{Type: "image", Text: "foto", Media: &event.Media{Mimetype: "image/png", Size: int64(len(png)), SHA256: hex.EncodeToString(pngSum[:])}}},
	}
	for _, lid := range []bool{false, true} {
		for _, tt := range tests {
			id := tt.name
			if lid {
				id += "-lid"
			}
			body := map[string]any{"from": "+51987654321", "id": id, "lid": lid}
			for k, v := range tt.body {
				body[k] = v
			}
			if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), body); rep.Error != "" {
				t.Fatalf("inbound %s: %+v", id, rep)
			}
		}
	}
	testenv.Eventually(t, 30*time.Second, "message events", func() bool {
		return len(decoded[event.Message](t, s, "acme", vocab.EventMessage)) == 2*len(tests)
	})
	got := map[string]event.Message{}
	for _, m := range decoded[event.Message](t, s, "acme", vocab.EventMessage) {
		got[m.MessageID] = m
	}
	const pn = "51987654321@s.whatsapp.net"
	for _, lid := range []bool{false, true} {
		for _, tt := range tests {
			want := tt.want
			want.MessageID, want.Chat, want.Sender = tt.name, pn, pn
			if lid {
				want.MessageID += "-lid"
				want.SenderLID, want.ChatLID = sim.ContactLID("+51987654321"), sim.ContactLID("+51987654321")
			}
			m := got[want.MessageID]
			want.Timestamp = m.Timestamp
			if m.Media != nil && want.Media != nil {
				want.Media.Object = m.Media.Object
			}
			if a, b := jsonOf(m), jsonOf(want); a != b {
				t.Errorf("%s:\n got %s\nwant %s", want.MessageID, a, b)
			}
		}
	}
	for _, bad := range []map[string]any{
		{"from": "+51987654321", "poll": map[string]any{"question": "q", "options": []string{"solo"}}},
		{"from": "+51987654321", "read": map[string]any{"message_ids": []string{"3EB0A"}}},
		{"from": "+51987654321", "image": map[string]string{"object": "in-the-bucket"}},
		{"from": "+51987654321", "location": map[string]any{"latitude": 91, "longitude": 0}},
	} {
		if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), bad); rep.Code != "invalid_request" {
			t.Errorf("inbound %v = %+v, want invalid_request", bad, rep)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
