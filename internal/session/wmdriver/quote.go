package wmdriver

import (
	"context"
	"sync"

	"go.mau.fi/whatsmeow/types"
)

// quoteMemory is how many message authors a tenant's quotes keep; the
// oldest is forgotten first.
const quoteMemory = 1024

// quotes remembers who wrote a tenant's recent messages (received, sent
// from its other devices, and sent by the gateway), so that a reply names
// the quoted message's author, as WhatsApp clients do. It lives on the
// Driver, across reconnects, but not across processes: for messages it
// does not know, the gateway's own sends are found in whatsmeow's retry
// buffer (seven days), and in a one-to-one chat anything else was written
// by the other party. A group message that this process never saw is
// quoted without an author. Its methods are safe for concurrent use and do
// nothing on a nil *quotes.
type quotes struct {
	mu      sync.Mutex
	authors map[string]author // by message id
	ring    []string          // ids in the order they were recorded
	next    int
	// groups records whether each group seen addresses its members by
	// LID (true) or phone number.
	groups map[types.JID]bool
}

// author is who wrote a message: the user as WhatsApp named it, without a
// device part, or this account.
type author struct {
	jid    types.JID
	fromMe bool
}

func newQuotes() *quotes {
	return &quotes{authors: map[string]author{}, ring: make([]string, quoteMemory), groups: map[types.JID]bool{}}
}

// saw records the author of a message that arrived.
func (q *quotes) saw(info types.MessageInfo) {
	if q == nil || info.ID == "" {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.recordLocked(info.ID, author{jid: info.Sender.ToNonAD(), fromMe: info.IsFromMe})
	if info.IsGroup && info.Chat.Server == types.GroupServer && info.AddressingMode != "" {
		q.groups[info.Chat] = info.AddressingMode == types.AddressingModeLID
	}
}

// sent records a message this account sent.
func (q *quotes) sent(id string) {
	if q == nil || id == "" {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.recordLocked(id, author{fromMe: true})
}

func (q *quotes) recordLocked(id string, a author) {
	if _, ok := q.authors[id]; !ok {
		if old := q.ring[q.next]; old != "" {
			delete(q.authors, old)
		}
		q.ring[q.next] = id
		q.next = (q.next + 1) % len(q.ring)
	}
	q.authors[id] = a
}

// author returns who wrote message id, if it was recorded.
func (q *quotes) author(id string) (author, bool) {
	if q == nil {
		return author{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	a, ok := q.authors[id]
	return a, ok
}

// lidGroup reports whether group was last seen addressing members by LID.
func (q *quotes) lidGroup(group types.JID) bool {
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.groups[group]
}

// self is this account's phone-number JID and LID, without device parts.
type self struct{ pn, lid types.JID }

// quoteAuthor decides whom a reply to message replyTo in chat to names as
// the quoted message's author (ContextInfo.Participant), in the form the
// chat is addressed in: LIDs in a chat WhatsApp addresses by LID (a LID
// recipient, a phone number whose LID is known, since whatsmeow then sends
// to the LID; a LID-addressed group), phone numbers otherwise. sentBefore
// reports whether this account sent replyTo to that chat, for ids the
// quotes do not know. It returns the empty JID when the author is unknown.
func (m mapper) quoteAuthor(replyTo string, to types.JID, me self, sentBefore func() bool) types.JID {
	a, known := m.quotes.author(replyTo)
	if !known && sentBefore() {
		a, known = author{fromMe: true}, true
	}
	lidChat := m.lidAddressed(to)
	switch {
	case known && a.fromMe:
		if lidChat && !me.lid.IsEmpty() {
			return me.lid
		}
		return me.pn
	case known:
		return m.inForm(a.jid, lidChat)
	case to.Server == types.GroupServer:
		return types.EmptyJID
	}
	return m.inForm(to, lidChat)
}

// lidAddressed reports whether WhatsApp addresses chat by LID.
func (m mapper) lidAddressed(chat types.JID) bool {
	switch chat.Server {
	case types.HiddenUserServer:
		return true
	case types.DefaultUserServer:
		return !m.lookup(chat.ToNonAD()).IsEmpty()
	case types.GroupServer:
		return m.quotes.lidGroup(chat)
	}
	return false
}

// inForm gives user j as a LID (lid true) or phone number when the LID
// map knows that form, else as it is.
func (m mapper) inForm(j types.JID, lid bool) types.JID {
	j = j.ToNonAD()
	isLID := j.Server == types.HiddenUserServer
	if lid == isLID || (j.Server != types.HiddenUserServer && j.Server != types.DefaultUserServer) {
		return j
	}
	if other := m.lookup(j); !other.IsEmpty() {
		return other
	}
	return j
}

// sentBefore reports whether whatsmeow's retry buffer holds message id as
// sent by this device to chat to (under its phone number or its LID).
func (c *conn) sentBefore(ctx context.Context, id string, to types.JID) bool {
	alt := c.m.lookup(to.ToNonAD())
	if alt.IsEmpty() {
		alt = to
	}
	format, _, err := c.client.Store.EventBuffer.GetOutgoingEvent(ctx, to, alt, id)
	return err == nil && format != ""
}

// self is this device's account.
func (c *conn) self() self {
	return self{pn: c.client.Store.GetJID().ToNonAD(), lid: c.client.Store.GetLID().ToNonAD()}
}
