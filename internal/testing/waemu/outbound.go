package waemu

import (
	"context"
	"fmt"
	"slices"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// Received is a message a client sent that reached an emulated recipient
// (a contact's phone), decrypted.
type Received struct {
	// ID is the WhatsApp message id (the stanza's id attribute).
	ID string
	// From is the sending client device.
	From types.JID
	// To is the chat the message was sent to: the recipient's phone-number
	// user JID, however the client addressed it.
	To types.JID
	// ToJID is the address the client used: To, or the recipient's LID.
	ToJID types.JID
	// Type is the stanza's type attribute ("text", "media", "reaction"...).
	Type string
	// MediaType is the enc node's mediatype attribute ("document", "image"...).
	MediaType string
	// Message is the decrypted message.
	Message *waE2E.Message
	// Duplicate is set when a message with the same ID from the same sender
	// to the same chat was received before: the recipient got it twice.
	Duplicate bool
	// At is when the server received it.
	At time.Time
}

// handleMessage takes a message stanza from a client: each <to> device's
// ciphertext is decrypted by the emulated device it is for, or relayed to
// the paired client it is for. The client gets its <ack> once every copy
// has been taken care of.
func (c *conn) handleMessage(node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	to, okTo := node.Attrs["to"].(types.JID)
	if c.dev.IsEmpty() || id == "" || !okTo {
		c.s.debugf("ignoring malformed or unauthenticated message from %s", c.name())
		return
	}
	ack := waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "message", "id": id, "from": to, "t": now()}}
	if (to.Server == types.DefaultUserServer || to.Server == types.HiddenUserServer) && !c.s.knownUser(to) {
		ack.Attrs["error"] = 404
		c.sendOrClose(ack)
		return
	}
	if code := c.s.refusal(c.dev, to, node); code != 0 {
		ack.Attrs["error"] = code
		c.sendOrClose(ack)
		return
	}
	typ, _ := node.Attrs["type"].(string)
	for _, part := range messageParts(node, to) {
		c.s.takeMessage(c.dev, to, id, typ, node, part)
	}
	c.s.contacted(c.dev, to)
	if d := c.s.cfg.AckDelay; d > 0 {
		time.AfterFunc(d, func() { c.sendOrClose(ack) })
		return
	}
	c.sendOrClose(ack)
}

type messagePart struct {
	device types.JID
	enc    waBinary.Node
}

// messageParts lists the per-device ciphertexts of a message stanza, from
// <participants><to jid><enc/></to></participants> or a bare <enc>.
func messageParts(node *waBinary.Node, to types.JID) []messagePart {
	var parts []messagePart
	for _, p := range node.GetChildrenByTag("participants") {
		for _, t := range p.GetChildrenByTag("to") {
			jid, ok := t.Attrs["jid"].(types.JID)
			if !ok {
				continue
			}
			for _, enc := range t.GetChildrenByTag("enc") {
				parts = append(parts, messagePart{device: jid, enc: enc})
			}
		}
	}
	for _, enc := range node.GetChildrenByTag("enc") {
		parts = append(parts, messagePart{device: to, enc: enc})
	}
	return parts
}

func (s *Server) knownUser(jid types.JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.userByJIDLocked(jid)
	return ok
}

// takeMessage handles one device's copy of a message from a client.
func (s *Server) takeMessage(from, chat types.JID, id, typ string, node *waBinary.Node, part messagePart) {
	s.mu.Lock()
	var phone *emuDevice
	var chatPN types.JID
	if u, ok := s.userByJIDLocked(chat); ok {
		chatPN = u.jid()
	}
	if part.device.Device == 0 {
		if u, ok := s.userByJIDLocked(part.device); ok {
			phone = u.phoneDev
		}
	}
	comp, isCompanion := s.companionLocked(part.device)
	var sender types.JID
	if c, ok := s.companions[from]; ok && part.device.Server == types.HiddenUserServer {
		sender = c.lid
	}
	s.mu.Unlock()
	if sender.IsEmpty() {
		sender = from
	}
	switch {
	case phone != nil:
		s.decryptFor(phone, sender, chatPN, chat, id, typ, part)
	case isCompanion && comp.jid != from:
		part.device = comp.jid
		s.relay(from, sender, chat, id, typ, node, part)
	default:
		s.debugf("message %s: no device %s", id, part.device)
	}
}

// decryptFor decrypts a copy addressed to an emulated phone and records it.
// Copies for the sender's own phone (device-sent messages) are decrypted to
// keep the session in step, but not recorded. An emulated phone keeps one
// session per client device, under its phone-number address, whichever
// form (phone number or LID) the client sent from: the client, too, keeps
// one session per phone, moved to the LID address once it knows the LID.
func (s *Server) decryptFor(phone *emuDevice, from, chat, addressed types.JID, id, typ string, part messagePart) {
	from = s.phoneForm(from)
	encType, _ := part.enc.Attrs["type"].(string)
	ct, _ := part.enc.Content.([]byte)
	msg, err := decryptMessage(phone, from, encType, ct)
	if err != nil {
		s.logf("message %s from %s to %s: %v", id, from, part.device, err)
		return
	}
	if s.answerPeerRequest(phone, from, id, msg) {
		return
	}
	mediaType, _ := part.enc.Attrs["mediatype"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	if phone.jid.User == from.User {
		return
	}
	dup := slices.ContainsFunc(s.received, func(r Received) bool {
		return r.ID == id && r.From.User == from.User && r.To == chat.ToNonAD()
	})
	s.received = append(s.received, Received{
		ID: id, From: from, To: chat.ToNonAD(), ToJID: addressed.ToNonAD(), Type: typ, MediaType: mediaType,
		Message: msg, Duplicate: dup, At: time.Now(),
	})
	s.notifyLocked()
}

// decryptMessage decrypts, unpads and unmarshals one ciphertext. Garbage
// from the client is an error, never a panic.
func decryptMessage(dev *emuDevice, from types.JID, encType string, ct []byte) (msg *waE2E.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("decrypt: %v", r)
		}
	}()
	plain, err := dev.decrypt(context.Background(), from, encType, ct)
	if err != nil {
		return nil, err
	}
	if plain, err = unpad(plain); err != nil {
		return nil, err
	}
	msg = &waE2E.Message{}
	if err := proto.Unmarshal(plain, msg); err != nil {
		return nil, fmt.Errorf("unmarshal message: %w", err)
	}
	return msg, nil
}

// relay forwards a copy addressed to another paired client, as WhatsApp
// does between real devices. A message the client addressed to a LID
// arrives from the sender's LID device, with its phone number in
// sender_pn.
func (s *Server) relay(from, sender, chat types.JID, id, typ string, node *waBinary.Node, part messagePart) {
	attrs := waBinary.Attrs{"from": sender, "id": id, "t": now()}
	if sender.Server == types.HiddenUserServer {
		attrs["sender_pn"] = from.ToNonAD()
	}
	if typ != "" {
		attrs["type"] = typ
	}
	if from.User == part.device.User {
		attrs["recipient"] = chat
		if pn, ok := s.phoneOfLID(chat); ok {
			attrs["peer_recipient_pn"] = pn
		}
	}
	content := []waBinary.Node{part.enc}
	if di, ok := node.GetOptionalChildByTag("device-identity"); ok {
		content = append(content, di)
	}
	s.enqueue(part.device, "message", id, waBinary.Node{Tag: "message", Attrs: attrs, Content: content})
}

// Received returns every message that reached an emulated recipient so
// far, in arrival order.
func (s *Server) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// WaitReceived blocks until a message with id has reached an emulated
// recipient and returns the first copy. It returns an error wrapping ctx's
// when ctx ends first, or ErrClosed.
func (s *Server) WaitReceived(ctx context.Context, id string) (Received, error) {
	var got Received
	err := s.waitFor(ctx, func() bool {
		i := slices.IndexFunc(s.received, func(r Received) bool { return r.ID == id })
		if i >= 0 {
			got = s.received[i]
		}
		return i >= 0
	})
	return got, err
}
