package wmdriver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// sources are the chats an inbound message of each kind is checked from:
// a phone-addressed contact, a LID-addressed one, and a group member.
func sources() map[string]struct {
	src  types.MessageSource
	want event.Message
} {
	member := types.NewADJID("51911111111", 0, 2)
	return map[string]struct {
		src  types.MessageSource
		want event.Message
	}{
		"direct": {direct(), event.Message{Chat: alice.String(), Sender: alice.String()}},
		"lid": {types.MessageSource{Chat: aliceLID, Sender: aliceLID, SenderAlt: alice},
			event.Message{Chat: alice.String(), Sender: alice.String(), SenderLID: aliceLID.String(), ChatLID: aliceLID.String()}},
		"group": {types.MessageSource{Chat: group, Sender: member, IsGroup: true},
			event.Message{Chat: group.String(), Sender: "51911111111@s.whatsapp.net", IsGroup: true}},
	}
}

func key(id string) *waCommon.MessageKey {
	return &waCommon.MessageKey{ID: new(id), RemoteJID: new(alice.String()), FromMe: new(true)}
}

// Every v2 inbound kind reports its type and object, from a contact, a
// LID-addressed contact and a group member alike.
func TestMapContentObjects(t *testing.T) {
	t.Parallel()
	lat, long := -12.0464, -77.0428
	vcard := "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL;type=CELL;waid=51911122233:+51 911 122 233\nEND:VCARD"
	tests := []struct {
		name string
		raw  *waE2E.Message
		want event.Message
	}{
		{"reaction", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: new("❤️"), Key: key("3EB0MINE")}},
			event.Message{Type: "reaction", Text: "❤️", ReplyTo: "3EB0MINE", Reaction: &event.Reaction{MessageID: "3EB0MINE", Emoji: "❤️"}}},
		{"reaction removed", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: new(""), Key: key("3EB0MINE")}},
			event.Message{Type: "reaction", ReplyTo: "3EB0MINE", Reaction: &event.Reaction{MessageID: "3EB0MINE"}}},
		{"edit", &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: key("3EB0OLD"), EditedMessage: &waE2E.Message{Conversation: new("a las 9")}}}}},
			event.Message{Type: "edit", Text: "a las 9", ReplyTo: "3EB0OLD", Edit: &event.Edit{MessageID: "3EB0OLD", Text: "a las 9"}}},
		{"edited caption", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), Key: key("3EB0IMG"),
			EditedMessage: &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: new("otra foto")}}}},
			event.Message{Type: "edit", Text: "otra foto", ReplyTo: "3EB0IMG", Edit: &event.Edit{MessageID: "3EB0IMG", Text: "otra foto"}}},
		{"revoke", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: key("3EB0GONE")}},
			event.Message{Type: "revoke", ReplyTo: "3EB0GONE", Revoke: &event.Revoke{MessageID: "3EB0GONE"}}},
		{"location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: new(lat), DegreesLongitude: new(long), Name: new("Plaza Mayor"), Address: new("Lima")}},
			event.Message{Type: "location", Text: "-12.0464,-77.0428\nPlaza Mayor\nLima", Location: &event.Location{Latitude: &lat, Longitude: &long, Name: "Plaza Mayor", Address: "Lima"}}},
		{"contact", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: new("Ana"), Vcard: new(vcard)}},
			event.Message{Type: "contact", Text: vcard, Contact: &event.Contact{Name: "Ana", Phone: "+51911122233", VCard: vcard}}},
		{"poll", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: new("¿Hora?"), SelectableOptionsCount: new(uint32(1)),
			Options: []*waE2E.PollCreationMessage_Option{{OptionName: new("8")}, {OptionName: new("9")}}}},
			event.Message{Type: "poll", Text: "¿Hora?", Poll: &event.Poll{Question: "¿Hora?", Options: []string{"8", "9"}}}},
	}
	for _, tt := range tests {
		for name, src := range sources() {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				got, ok := testMapper().event(inbound(src.src, tt.raw))
				if !ok {
					t.Fatal("message not reported")
				}
				want := tt.want
				want.Chat, want.Sender, want.SenderLID, want.ChatLID, want.IsGroup = src.want.Chat, src.want.Sender, src.want.SenderLID, src.want.ChatLID, src.want.IsGroup
				want.MessageID, want.PushName, want.Timestamp = "3EB0C4F1A2B3", "Alice", msgTime.UTC()
				if d := got.(wa.Message).Data; !reflect.DeepEqual(d, want) {
					t.Errorf("data\n %s\nwant\n %s", jsonOf(d), jsonOf(want))
				}
			})
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A vote is decrypted into the chosen options, named from the poll when
// the driver saw it; a vote on a poll it never saw names them by hash, and
// one it cannot decrypt has no options at all (not "withdrawn").
func TestMapPollVotes(t *testing.T) {
	t.Parallel()
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	var decryptErr error
	var chosen [][]byte
	m := testMapper()
	m.polls = newPolls()
	m.decryptVote = func(_ context.Context, vote *events.Message) (*waE2E.PollVoteMessage, error) {
		if vote.Message.GetPollUpdateMessage() == nil {
			t.Error("decrypting a message that is no vote")
		}
		return &waE2E.PollVoteMessage{SelectedOptions: chosen}, decryptErr
	}
	poll := &waE2E.Message{PollCreationMessage: &waE2E.PollCreationMessage{Name: new("¿Hora?"),
		Options: []*waE2E.PollCreationMessage_Option{{OptionName: new("8")}, {OptionName: new("9")}, {OptionName: new("10")}}}}
	pollEvt := inbound(types.MessageSource{Chat: group, Sender: alice, IsGroup: true}, poll)
	pollEvt.Info.ID = "3EB0POLL"
	if _, ok := m.event(pollEvt); !ok {
		t.Fatal("poll not reported")
	}
	vote := func(pollID string) event.Message {
		t.Helper()
		raw := &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{PollCreationMessageKey: key(pollID), Vote: &waE2E.PollEncValue{}}}
		got, ok := m.event(inbound(types.MessageSource{Chat: group, Sender: types.NewADJID("51911111111", 0, 2), IsGroup: true}, raw))
		if !ok {
			t.Fatal("vote not reported")
		}
		return got.(wa.Message).Data
	}
	chosen = [][]byte{hash("9"), hash("10")}
	d := vote("3EB0POLL")
	if d.Type != "poll_vote" || d.Sender != "51911111111@s.whatsapp.net" || d.Chat != group.String() || d.Text != "9\n10" ||
		!reflect.DeepEqual(d.PollVote, &event.PollVote{MessageID: "3EB0POLL", Options: []string{"9", "10"}}) {
		t.Errorf("vote %s", jsonOf(d))
	}
	chosen = nil
	if d := vote("3EB0POLL"); !reflect.DeepEqual(d.PollVote, &event.PollVote{MessageID: "3EB0POLL", Options: []string{}}) {
		t.Errorf("withdrawn vote %s", jsonOf(d))
	}
	chosen = [][]byte{hash("x")}
	if d := vote("3EB0UNSEEN"); !reflect.DeepEqual(d.PollVote, &event.PollVote{MessageID: "3EB0UNSEEN", Options: []string{},
		OptionHashes: []string{hex.EncodeToString(hash("x"))}}) {
		t.Errorf("vote on an unknown poll %s", jsonOf(d))
	}
	decryptErr = errors.New("no secret")
	if d := vote("3EB0POLL"); !reflect.DeepEqual(d.PollVote, &event.PollVote{MessageID: "3EB0POLL"}) || d.Type != "poll_vote" {
		t.Errorf("undecryptable vote %s", jsonOf(d))
	}
}
