package wmdriver

import (
	"cmp"
	"context"
	"os"
	"strconv"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// content is what a message carries, whatever its kind.
type content struct {
	typ     string
	text    string
	replyTo string
	media   whatsmeow.DownloadableMessage // nil unless an attachment
	mime    string
	file    string
	size    uint64
	// the content object of the v2 kinds (object.go)
	object objects
}

// message maps an inbound message. evt.Message is already unwrapped by
// whatsmeow (device-sent, ephemeral, view-once, document-with-caption,
// edited wrappers). Other protocol traffic (history-sync notifications,
// bare sender-key distributions) and status updates are
// not reported; edits and revokes are, pointing at their target.
func (m mapper) message(evt *events.Message) (wa.Event, bool) {
	msg := evt.Message
	if msg == nil || evt.Info.Chat == types.StatusBroadcastJID {
		return nil, false
	}
	c := extract(msg)
	if c.typ == vocab.ContentOther && isProtocolOnly(msg) {
		return nil, false
	}
	m.objects(evt, &c)
	m.quotes.saw(evt.Info)
	return wa.Message{Data: m.messageData(evt.Info, c), Media: m.inboundMedia(evt.Info, c)}, true
}

func (m mapper) messageData(info types.MessageInfo, c content) event.Message {
	chat, sender := m.chat(info.MessageSource), m.sender(info.MessageSource)
	return event.Message{
		MessageID: info.ID,
		Chat:      chat.String(),
		Sender:    sender.String(),
		SenderLID: sender.lidString(),
		ChatLID:   chat.lidString(),
		PushName:  info.PushName,
		Timestamp: info.Timestamp.UTC(),
		IsGroup:   info.Chat.Server == types.GroupServer,
		FromMe:    info.IsFromMe,
		Type:      c.typ,
		Text:      c.text,
		ReplyTo:   c.replyTo,
		Reaction:  c.object.reaction,
		Edit:      c.object.edit,
		Revoke:    c.object.revoke,
		Location:  c.object.location,
		Contact:   c.object.contact,
		Poll:      c.object.poll,
		PollVote:  c.object.vote,
	}
}

// inboundMedia is the attachment of a message, streamed by DownloadTo.
func (m mapper) inboundMedia(info types.MessageInfo, c content) *wa.InboundMedia {
	if c.media == nil {
		return nil
	}
	att := c.media
	return &wa.InboundMedia{
		Mimetype: c.mime,
		Filename: c.file,
		Size:     int64(c.size),
		DownloadTo: func(ctx context.Context, f *os.File, limit int64) error {
			return m.downloadTo(ctx, info, att, f, limit)
		},
	}
}

// isProtocolOnly reports a message of no known kind that is protocol
// traffic: a protocol message or a bare sender-key distribution.
func isProtocolOnly(msg *waE2E.Message) bool {
	return msg.ProtocolMessage != nil || msg.SenderKeyDistributionMessage != nil
}

// extract finds the content of a message, trying each kind in turn.
func extract(msg *waE2E.Message) content {
	for _, try := range []func(*waE2E.Message) (content, bool){textContent, mediaContent, specialContent, protocolContent, pollContent} {
		if c, ok := try(msg); ok {
			return c
		}
	}
	return content{typ: vocab.ContentOther}
}

func textContent(msg *waE2E.Message) (content, bool) {
	if msg.Conversation != nil {
		return content{typ: vocab.ContentText, text: msg.GetConversation()}, true
	}
	if t := msg.ExtendedTextMessage; t != nil {
		return content{typ: vocab.ContentText, text: t.GetText(), replyTo: quoted(t.GetContextInfo())}, true
	}
	return content{}, false
}

func mediaContent(msg *waE2E.Message) (content, bool) {
	switch {
	case msg.ImageMessage != nil:
		i := msg.ImageMessage
		return attachment(vocab.ContentImage, i, i.GetCaption(), i.GetMimetype(), "", i.GetFileLength(), i.GetContextInfo()), true
	case msg.DocumentMessage != nil:
		d := msg.DocumentMessage
		name := cmp.Or(d.GetFileName(), d.GetTitle())
		return attachment(vocab.ContentDocument, d, d.GetCaption(), d.GetMimetype(), name, d.GetFileLength(), d.GetContextInfo()), true
	case msg.AudioMessage != nil:
		a := msg.AudioMessage
		return attachment(vocab.ContentAudio, a, "", a.GetMimetype(), "", a.GetFileLength(), a.GetContextInfo()), true
	case msg.VideoMessage != nil:
		v := msg.VideoMessage
		return attachment(vocab.ContentVideo, v, v.GetCaption(), v.GetMimetype(), "", v.GetFileLength(), v.GetContextInfo()), true
	case msg.StickerMessage != nil:
		s := msg.StickerMessage
		return attachment(vocab.ContentSticker, s, "", s.GetMimetype(), "", s.GetFileLength(), s.GetContextInfo()), true
	}
	return content{}, false
}

func attachment(typ string, att whatsmeow.DownloadableMessage, text, mime, file string, size uint64, ci *waE2E.ContextInfo) content {
	return content{typ: typ, text: text, replyTo: quoted(ci), media: att, mime: mime, file: file, size: size}
}

func specialContent(msg *waE2E.Message) (content, bool) {
	switch {
	case msg.ReactionMessage != nil:
		r := msg.ReactionMessage
		obj := objects{reaction: &event.Reaction{MessageID: r.GetKey().GetID(), Emoji: r.GetText()}}
		return content{typ: vocab.ContentReaction, text: r.GetText(), replyTo: r.GetKey().GetID(), object: obj}, true
	case msg.LocationMessage != nil:
		l := msg.LocationMessage
		text := location(l.GetDegreesLatitude(), l.GetDegreesLongitude(), l.GetName(), l.GetAddress())
		obj := objects{location: &event.Location{Latitude: new(l.GetDegreesLatitude()), Longitude: new(l.GetDegreesLongitude()),
			Name: l.GetName(), Address: l.GetAddress()}}
		return content{typ: vocab.ContentLocation, text: text, replyTo: quoted(l.GetContextInfo()), object: obj}, true
	case msg.LiveLocationMessage != nil:
		l := msg.LiveLocationMessage
		text := location(l.GetDegreesLatitude(), l.GetDegreesLongitude(), l.GetCaption())
		obj := objects{location: &event.Location{Latitude: new(l.GetDegreesLatitude()), Longitude: new(l.GetDegreesLongitude()),
			Name: l.GetCaption()}}
		return content{typ: vocab.ContentLocation, text: text, replyTo: quoted(l.GetContextInfo()), object: obj}, true
	case msg.ContactMessage != nil:
		c := msg.ContactMessage
		obj := objects{contact: contactObject(c)}
		return content{typ: vocab.ContentContact, text: contactText(c), replyTo: quoted(c.GetContextInfo()), object: obj}, true
	case msg.ContactsArrayMessage != nil:
		a := msg.ContactsArrayMessage
		var obj objects
		if len(a.GetContacts()) > 0 {
			obj.contact = contactObject(a.GetContacts()[0])
		}
		return content{typ: vocab.ContentContact, text: contactsText(a), replyTo: quoted(a.GetContextInfo()), object: obj}, true
	}
	return content{}, false
}

// location renders "lat,long" on the first line, then any non-empty labels
// (name, address, caption) one per line.
func location(lat, long float64, labels ...string) string {
	lines := []string{strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(long, 'f', -1, 64)}
	for _, l := range labels {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// contactText is the contact's vCard, or its display name without one.
func contactText(c *waE2E.ContactMessage) string {
	return cmp.Or(c.GetVcard(), c.GetDisplayName())
}

func contactsText(a *waE2E.ContactsArrayMessage) string {
	parts := make([]string, 0, len(a.GetContacts()))
	for _, c := range a.GetContacts() {
		parts = append(parts, contactText(c))
	}
	if len(parts) == 0 {
		return a.GetDisplayName()
	}
	return strings.Join(parts, "\n")
}

// quoted is the id of the message a reply quotes, or "".
func quoted(ci *waE2E.ContextInfo) string {
	return ci.GetStanzaID()
}
