package wmdriver

import (
	"context"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// objects are the content objects of an inbound message of a v2 kind (at
// most one is set).
type objects struct {
	reaction *event.Reaction
	edit     *event.Edit
	revoke   *event.Revoke
	location *event.Location
	contact  *event.Contact
	poll     *event.Poll
	vote     *event.PollVote
}

// voteTimeout bounds decrypting a poll vote (a read of the device store).
const voteTimeout = 10 * time.Second

// protocolContent maps the protocol messages a user sees: an edit (its
// new text, pointing at the edited message) and a revoke (pointing at the
// deleted one).
func protocolContent(msg *waE2E.Message) (content, bool) {
	p := msg.GetProtocolMessage()
	id := p.GetKey().GetID()
	if id == "" { // points at nothing: not a message to report
		return content{}, false
	}
	switch p.GetType() {
	case waE2E.ProtocolMessage_MESSAGE_EDIT:
		var text content
		if edited := p.GetEditedMessage(); edited != nil {
			if text, _ = textContent(edited); text.typ == "" { // an edited caption
				text, _ = mediaContent(edited)
			}
		}
		return content{typ: vocab.ContentEdit, text: text.text, replyTo: id, object: objects{edit: &event.Edit{MessageID: id, Text: text.text}}}, true
	case waE2E.ProtocolMessage_REVOKE:
		return content{typ: vocab.ContentRevoke, replyTo: id, object: objects{revoke: &event.Revoke{MessageID: id}}}, true
	}
	return content{}, false
}

// pollContent maps a poll and a vote on one (whose options objects fills
// in, once decrypted).
func pollContent(msg *waE2E.Message) (content, bool) {
	if pc := pollCreation(msg); pc != nil {
		poll := &event.Poll{Question: pc.GetName(), Options: pollOptions(pc), Multiple: pc.GetSelectableOptionsCount() != 1}
		return content{typ: vocab.ContentPoll, text: pc.GetName(), replyTo: quoted(pc.GetContextInfo()), object: objects{poll: poll}}, true
	}
	if u := msg.GetPollUpdateMessage(); u != nil {
		id := u.GetPollCreationMessageKey().GetID()
		return content{typ: vocab.ContentPollVote, replyTo: id, object: objects{vote: &event.PollVote{MessageID: id}}}, true
	}
	return content{}, false
}

// objects completes what needs more than the message: a poll's options are
// remembered for its votes, and a vote is decrypted into the chosen
// options (named from the poll when it was seen, else by hash). A vote
// that cannot be decrypted is reported with options null.
func (m mapper) objects(evt *events.Message, c *content) {
	switch {
	case c.object.poll != nil:
		m.polls.saw(evt.Info.ID, c.object.poll.Options)
	case c.object.vote != nil && m.decryptVote != nil:
		ctx, cancel := context.WithTimeout(context.Background(), voteTimeout)
		defer cancel()
		vote, err := m.decryptVote(ctx, evt)
		if err != nil {
			return
		}
		v := c.object.vote
		v.Options, v.OptionHashes = m.polls.names(v.MessageID, vote.GetSelectedOptions())
		c.text = strings.Join(v.Options, "\n")
	}
}

// contactObject is a contact card: its name, vCard and first phone.
func contactObject(c *waE2E.ContactMessage) *event.Contact {
	return &event.Contact{Name: c.GetDisplayName(), Phone: vcardPhone(c.GetVcard()), VCard: c.GetVcard()}
}

// vcardPhone is the first TEL of a vCard as +digits (its waid when it has
// one), or "".
func vcardPhone(card string) string {
	for line := range strings.Lines(card) {
		key, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":")
		if !ok || !strings.HasPrefix(strings.ToUpper(key), "TEL") {
			continue
		}
		if _, waid, ok := strings.Cut(strings.ToLower(key), "waid="); ok {
			value = strings.SplitN(waid, ";", 2)[0]
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, value)
		if digits != "" {
			return "+" + digits
		}
	}
	return ""
}
