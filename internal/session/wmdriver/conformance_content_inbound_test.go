package wmdriver_test

import (
	"reflect"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/waemu"
)

// Contacts' reactions, edits, revokes, locations, contacts, polls and
// votes reach subscribers with their type and object, from a
// phone-addressed and from a LID-addressed chat; a vote on the tenant's own
// poll is decrypted into the chosen options.
func TestConformanceInboundContents(t *testing.T) {
	t.Parallel()
	s, emu, _, _, dev := pairedAcme(t)
	const alice, bob = "+51987654321", "+51922222222" // bob's chat is LID-addressed
	if err := emu.SetAddressing(bob, waemu.AddressLID); err != nil {
		t.Fatal(err)
	}
	poll, _ := received(t, s, emu, map[string]any{"id": "poll", "to": alice, "poll": map[string]any{"question": "¿Hora?", "options": []string{"8", "9", "10"}, "multiple": true}})
	lat, long := 48.8584, 2.2945
	key := func(id string) *waCommon.MessageKey {
		return &waCommon.MessageKey{ID: proto.String(id), RemoteJID: proto.String("51900000000@s.whatsapp.net"), FromMe: proto.Bool(false)}
	}
	tests := []struct {
		id   string
		msg  *waE2E.Message
		want event.Message
	}{
		{"IN-REACT", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Key: key(poll.ID), Text: proto.String("🎉"), SenderTimestampMS: proto.Int64(1)}},
			event.Message{Type: "reaction", Text: "🎉", ReplyTo: poll.ID, Reaction: &event.Reaction{MessageID: poll.ID, Emoji: "🎉"}}},
		{"IN-EDIT", &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: key("3EB0EARLIER"), EditedMessage: &waE2E.Message{Conversation: proto.String("mejor a las 10")}}}}},
			event.Message{Type: "edit", Text: "mejor a las 10", ReplyTo: "3EB0EARLIER", Edit: &event.Edit{MessageID: "3EB0EARLIER", Text: "mejor a las 10"}}},
		{"IN-REVOKE", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: key("3EB0EARLIER")}},
			event.Message{Type: "revoke", ReplyTo: "3EB0EARLIER", Revoke: &event.Revoke{MessageID: "3EB0EARLIER"}}},
		{"IN-LOC", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(lat), DegreesLongitude: proto.Float64(long), Name: proto.String("Tour Eiffel")}},
			event.Message{Type: "location", Text: "48.8584,2.2945\nTour Eiffel", Location: &event.Location{Latitude: &lat, Longitude: &long, Name: "Tour Eiffel"}}},
		{"IN-CARD", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Ana"), Vcard: proto.String("BEGIN:VCARD\nFN:Ana\nTEL;waid=51911122233:+51 911 122 233\nEND:VCARD")}},
			event.Message{Type: "contact", Text: "BEGIN:VCARD\nFN:Ana\nTEL;waid=51911122233:+51 911 122 233\nEND:VCARD",
				Contact: &event.Contact{Name: "Ana", Phone: "+51911122233", VCard: "BEGIN:VCARD\nFN:Ana\nTEL;waid=51911122233:+51 911 122 233\nEND:VCARD"}}},
		{"IN-POLL", &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("¿Vienes?"), SelectableOptionsCount: proto.Uint32(1),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: proto.String("sí")}, {OptionName: proto.String("no")}}},
			MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: make([]byte, 32)}},
			event.Message{Type: "poll", Text: "¿Vienes?", Poll: &event.Poll{Question: "¿Vienes?", Options: []string{"sí", "no"}}}},
	}
	for _, from := range []string{alice, bob} {
		for _, tt := range tests {
			if err := emu.SendMessage(dev, from, tt.id+from[len(from)-2:], tt.msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := emu.VotePoll(dev, alice, "IN-VOTE", poll, "9", "10"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "message events", func() bool { return len(messageEvents(t, s, "acme")) == 2*len(tests)+1 })
	byID := messageEvents(t, s, "acme")
	for _, from := range []string{alice, bob} {
		for _, tt := range tests {
			id := tt.id + from[len(from)-2:]
			evs := byID[id]
			if len(evs) != 1 {
				t.Errorf("%s: %d events", id, len(evs))
				continue
			}
			got, want := evs[0], tt.want
			want.MessageID, want.Chat, want.Sender, want.Timestamp, want.PushName = id, from[1:]+"@s.whatsapp.net", from[1:]+"@s.whatsapp.net", got.Timestamp, got.PushName
			// both carry the LID: bob's chat is addressed by it, alice's
			// is known from the device store's LID map since the poll
			lid, _ := emu.LID(from)
			want.SenderLID, want.ChatLID = lid.String(), lid.String()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", id, got, want)
			}
		}
	}
	vote := byID["IN-VOTE"]
	if len(vote) != 1 || vote[0].Type != "poll_vote" || vote[0].Sender != "51987654321@s.whatsapp.net" ||
		!reflect.DeepEqual(vote[0].PollVote, &event.PollVote{MessageID: job.MessageID("acme", "poll"), Options: []string{"9", "10"}}) {
		t.Fatalf("vote events %+v", vote)
	}
}
