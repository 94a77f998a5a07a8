package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

var (
	bob    = types.NewJID("51911111111", types.DefaultUserServer)
	bobLID = types.NewJID("223344556677", types.HiddenUserServer)
	ownLID = types.NewJID("998877665544", types.HiddenUserServer)
	carol  = types.NewJID("51922222222", types.DefaultUserServer) // no LID known
)

// fakeLIDs is a device store LID map: phone user → LID user.
type fakeLIDs map[string]string

func (f fakeLIDs) GetPNForLID(_ context.Context, lid types.JID) (types.JID, error) {
	for pn, l := range f {
		if l == lid.User {
			return types.NewJID(pn, types.DefaultUserServer), nil
		}
	}
	if lid.User == "666" {
		return types.EmptyJID, errors.New("store down")
	}
	return types.EmptyJID, nil
}

func (f fakeLIDs) GetLIDForPN(_ context.Context, pn types.JID) (types.JID, error) {
	if l, ok := f[pn.User]; ok {
		return types.NewJID(l, types.HiddenUserServer), nil
	}
	return types.EmptyJID, nil
}

// lidMapper knows alice's and bob's LIDs, and its own.
func lidMapper() mapper {
	m := testMapper()
	m.lids = fakeLIDs{alice.User: aliceLID.User, bob.User: bobLID.User, ownDevice.User: ownLID.User}
	m.quotes = newQuotes()
	return m
}

// Senders and chats are phone JIDs whenever the message or the LID map
// knows the number, with the LID beside; a LID the map does not know stays
// the sender.
func TestIdentitiesFromTheLIDMap(t *testing.T) {
	t.Parallel()
	lidDev := func(j types.JID, dev uint16) types.JID { j.Device = dev; return j }
	tests := []struct {
		name string
		src  types.MessageSource
		want event.Message
	}{
		{"lid chat without sender_pn", types.MessageSource{Chat: aliceLID, Sender: lidDev(aliceLID, 3)},
			event.Message{Chat: alice.String(), Sender: alice.String(), SenderLID: aliceLID.String(), ChatLID: aliceLID.String()}},
		{"phone chat, lid from the map", direct(),
			event.Message{Chat: alice.String(), Sender: alice.String(), SenderLID: aliceLID.String(), ChatLID: aliceLID.String()}},
		{"phone without a lid", types.MessageSource{Chat: carol, Sender: carol},
			event.Message{Chat: carol.String(), Sender: carol.String()}},
		{"unknown lid", types.MessageSource{Chat: types.NewJID("5555", types.HiddenUserServer), Sender: types.NewJID("5555", types.HiddenUserServer)},
			event.Message{Chat: "5555@lid", Sender: "5555@lid", SenderLID: "5555@lid", ChatLID: "5555@lid"}},
		{"lid map fails", types.MessageSource{Chat: types.NewJID("666", types.HiddenUserServer), Sender: types.NewJID("666", types.HiddenUserServer)},
			event.Message{Chat: "666@lid", Sender: "666@lid", SenderLID: "666@lid", ChatLID: "666@lid"}},
		{"lid group with participant_pn", types.MessageSource{Chat: group, Sender: lidDev(bobLID, 2), SenderAlt: bob, IsGroup: true, AddressingMode: types.AddressingModeLID},
			event.Message{Chat: group.String(), Sender: bob.String(), SenderLID: bobLID.String(), IsGroup: true}},
		{"lid group, phone from the map", types.MessageSource{Chat: group, Sender: bobLID, IsGroup: true, AddressingMode: types.AddressingModeLID},
			event.Message{Chat: group.String(), Sender: bob.String(), SenderLID: bobLID.String(), IsGroup: true}},
		{"phone group with participant_lid", types.MessageSource{Chat: group, Sender: lidDev(bob, 2), SenderAlt: bobLID, IsGroup: true},
			event.Message{Chat: group.String(), Sender: bob.String(), SenderLID: bobLID.String(), IsGroup: true}},
		{"from my phone to a lid chat", types.MessageSource{Chat: aliceLID, Sender: lidDev(ownLID, 0), IsFromMe: true, RecipientAlt: alice},
			event.Message{Chat: alice.String(), Sender: ownDevice.ToNonAD().String(), SenderLID: ownLID.String(), ChatLID: aliceLID.String(), FromMe: true}},
		{"from my phone, no peer_recipient_pn", types.MessageSource{Chat: aliceLID, Sender: lidDev(ownLID, 0), IsFromMe: true},
			event.Message{Chat: alice.String(), Sender: ownDevice.ToNonAD().String(), SenderLID: ownLID.String(), ChatLID: aliceLID.String(), FromMe: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := lidMapper().event(inbound(tt.src, &waE2E.Message{Conversation: new("x")}))
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

func TestReceiptIdentitiesFromTheLIDMap(t *testing.T) {
	t.Parallel()
	in := &events.Receipt{MessageSource: types.MessageSource{Chat: bobLID, Sender: bobLID}, MessageIDs: []string{"3EB0A"},
		Type: types.ReceiptTypeRead, Timestamp: msgTime}
	got, ok := lidMapper().event(in)
	r, _ := got.(wa.Receipt)
	if !ok || r.Data.Sender != bob.String() || r.Data.Chat != bob.String() ||
		r.Data.SenderLID != bobLID.String() || r.Data.ChatLID != bobLID.String() {
		t.Errorf("receipt = %+v, %v; want bob's phone with his LID beside", r.Data, ok)
	}
}

// A reply names the quoted message's author in the chat's addressing:
// this account for its own messages (seen as sent, from another device or
// in whatsmeow's retry buffer), the author seen for others, the other party
// of a one-to-one chat when the message is unknown, and no one for an
// unknown group message.
func TestQuoteAuthor(t *testing.T) {
	t.Parallel()
	me := self{pn: ownDevice.ToNonAD(), lid: ownLID}
	m := lidMapper()
	m.quotes.sent("MINE")
	m.quotes.saw(types.MessageInfo{ID: "FROMPHONE", MessageSource: types.MessageSource{Chat: aliceLID, Sender: ownLID, IsFromMe: true}})
	m.quotes.saw(types.MessageInfo{ID: "ALICE", MessageSource: types.MessageSource{Chat: aliceLID, Sender: aliceLID}})
	m.quotes.saw(types.MessageInfo{ID: "CAROL", MessageSource: types.MessageSource{Chat: carol, Sender: carol}})
	lidGroup := types.NewJID("120363000000000001", types.GroupServer)
	m.quotes.saw(types.MessageInfo{ID: "BOBINLIDGROUP", MessageSource: types.MessageSource{Chat: lidGroup, Sender: bobLID,
		IsGroup: true, AddressingMode: types.AddressingModeLID}})
	m.quotes.saw(types.MessageInfo{ID: "BOBINGROUP", MessageSource: types.MessageSource{Chat: group, Sender: types.NewADJID(bob.User, 0, 2),
		IsGroup: true, AddressingMode: types.AddressingModePN}})
	retryBuffer := map[string]bool{"OLDMINE": true}
	tests := []struct {
		name, replyTo string
		to            types.JID
		want          types.JID
	}{
		{"own message, lid chat", "MINE", alice, ownLID},
		{"own message, chat without a lid", "MINE", carol, me.pn},
		{"own message from the phone", "FROMPHONE", alice, ownLID},
		{"own message from the retry buffer", "OLDMINE", alice, ownLID},
		{"other party's message", "ALICE", alice, aliceLID},
		{"other party's message, phone chat", "CAROL", carol, carol},
		{"unknown message, one-to-one", "NEVERSEEN", alice, aliceLID},
		{"unknown message, one-to-one without lid", "NEVERSEEN", carol, carol},
		{"unknown message, lid recipient", "NEVERSEEN", bobLID, bobLID},
		{"member of a lid group", "BOBINLIDGROUP", lidGroup, bobLID},
		{"own message in a lid group", "MINE", lidGroup, ownLID},
		{"member of a phone group", "BOBINGROUP", group, bob},
		{"own message in a phone group", "MINE", group, me.pn},
		{"own old message in a group", "OLDMINE", group, me.pn},
		{"unknown group message", "NEVERSEEN", group, types.EmptyJID},
	}
	for _, tt := range tests {
		asked := false
		got := m.quoteAuthor(tt.replyTo, tt.to, me, func() bool { asked = true; return retryBuffer[tt.replyTo] })
		if got != tt.want {
			t.Errorf("%s: quoteAuthor(%s, %s) = %v, want %v", tt.name, tt.replyTo, tt.to, got, tt.want)
		}
		if _, known := m.quotes.author(tt.replyTo); known == asked {
			t.Errorf("%s: retry buffer asked = %v for a message the quotes know = %v", tt.name, asked, known)
		}
	}
}

// The quotes forget the oldest authors first, keeping quoteMemory.
func TestQuotesAreBounded(t *testing.T) {
	t.Parallel()
	q := newQuotes()
	for i := range quoteMemory + 10 {
		q.sent(fmt.Sprint("ID", i))
	}
	if len(q.authors) != quoteMemory {
		t.Fatalf("%d authors kept, want %d", len(q.authors), quoteMemory)
	}
	if _, ok := q.author("ID0"); ok {
		t.Error("the oldest author is still kept")
	}
	if _, ok := q.author(fmt.Sprint("ID", quoteMemory+9)); !ok {
		t.Error("the newest author is forgotten")
	}
	var nilQuotes *quotes
	nilQuotes.sent("x")
	if _, ok := nilQuotes.author("x"); ok {
		t.Error("a nil quotes knows an author")
	}
}
