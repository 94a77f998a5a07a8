package wmdriver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// contentMessage builds the message of a v2 content kind (reaction, edit,
// revoke, location, contact, poll) to chat; ok is false for other kinds.
// It returns a *wa.SendError (invalid_job) for an object the pipeline did
// not fill in.
func contentMessage(msg *wa.OutMessage, chat types.JID, ci *waE2E.ContextInfo) (m *waE2E.Message, ok bool, err error) {
	missing := &wa.SendError{Code: event.CodeInvalidJob, Err: fmt.Errorf("%s job without its object", msg.Kind)}
	switch msg.Kind {
	case vocab.ContentReaction:
		if msg.Reaction == nil {
			return nil, true, missing
		}
		m, err = reactionMessage(msg.Reaction, chat)
	case vocab.ContentEdit:
		if msg.Edit == nil {
			return nil, true, missing
		}
		m = editMessage(msg.Edit, chat)
	case vocab.ContentRevoke:
		if msg.Revoke == nil {
			return nil, true, missing
		}
		m = &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: messageKey(chat, types.EmptyJID, msg.Revoke.MessageID),
		}}
	case vocab.ContentLocation:
		if msg.Location == nil || msg.Location.Latitude == nil || msg.Location.Longitude == nil {
			return nil, true, missing
		}
		l := msg.Location
		m = &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: l.Latitude, DegreesLongitude: l.Longitude,
			Name: optional(l.Name), Address: optional(l.Address), ContextInfo: ci,
		}}
	case vocab.ContentContact:
		if msg.Contact == nil || msg.Contact.VCard == "" {
			return nil, true, missing
		}
		m = &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
			DisplayName: new(msg.Contact.Name), Vcard: new(msg.Contact.VCard), ContextInfo: ci,
		}}
	case vocab.ContentPoll:
		if msg.Poll == nil {
			return nil, true, missing
		}
		m = pollMessage(msg.Poll, ci)
	default:
		return nil, false, nil
	}
	return m, true, err
}

// messageKey names the message id in chat: the tenant's own when sender
// is empty, else sender's (named as participant in a group).
func messageKey(chat, sender types.JID, id string) *waCommon.MessageKey {
	key := &waCommon.MessageKey{FromMe: new(sender.IsEmpty()), ID: new(id), RemoteJID: new(chat.String())}
	if !sender.IsEmpty() && chat.Server == types.GroupServer {
		key.Participant = new(sender.ToNonAD().String())
	}
	return key
}

func reactionMessage(r *event.Reaction, chat types.JID) (*waE2E.Message, error) {
	sender := types.EmptyJID
	if r.Sender != "" {
		var err error
		if sender, err = types.ParseJID(r.Sender); err != nil {
			return nil, &wa.SendError{Code: event.CodeInvalidJob, Err: fmt.Errorf("reaction sender %q: %w", r.Sender, err)}
		}
	}
	return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: messageKey(chat, sender, r.MessageID), Text: new(r.Emoji), SenderTimestampMS: new(time.Now().UnixMilli()),
	}}, nil
}

// editMessage is an edit of the tenant's own text message, as whatsmeow's
// BuildEdit writes it.
func editMessage(e *event.Edit, chat types.JID) *waE2E.Message {
	return &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
		ProtocolMessage: &waE2E.ProtocolMessage{
			Key:           messageKey(chat, types.EmptyJID, e.MessageID),
			Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			EditedMessage: &waE2E.Message{Conversation: new(e.Text)},
			TimestampMS:   new(time.Now().UnixMilli()),
		},
	}}}
}

// pollMessage is a poll, as whatsmeow's BuildPollCreation writes it: a
// fresh message secret (whatsmeow stores it when sending, so that votes
// can be decrypted), one selectable option or, for Multiple, any number.
func pollMessage(p *event.Poll, ci *waE2E.ContextInfo) *waE2E.Message {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	options := make([]*waE2E.PollCreationMessage_Option, len(p.Options))
	for i, o := range p.Options {
		options[i] = &waE2E.PollCreationMessage_Option{OptionName: new(o)}
	}
	selectable := uint32(1)
	if p.Multiple {
		selectable = 0
	}
	return &waE2E.Message{
		PollCreationMessage: &waE2E.PollCreationMessage{
			Name: new(p.Question), Options: options, SelectableOptionsCount: new(selectable), ContextInfo: ci,
		},
		MessageContextInfo: &waE2E.MessageContextInfo{MessageSecret: secret},
	}
}

// errNoReadIDs is returned for a read job without message ids.
var errNoReadIDs = errors.New("read job without message ids")
