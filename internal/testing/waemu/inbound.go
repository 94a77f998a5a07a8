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

// stanza is something the server owes a device (a message, a receipt) and
// resends until the device acknowledges it.
type stanza struct {
	dev      types.JID
	key      string // class/type/id, as the device's ack names it
	id       string
	class    string
	node     waBinary.Node
	sent     int
	lastSent time.Time
	acked    bool
}

func stanzaKey(class, typ, id string) string { return class + "/" + typ + "/" + id }

// enqueue records a stanza for dev and sends it now if dev is logged in
// and past its offline batch (otherwise the batch picks it up).
func (s *Server) enqueue(dev types.JID, class, id string, node waBinary.Node) {
	typ := ""
	if class != "message" {
		typ, _ = node.Attrs["type"].(string)
	}
	st := &stanza{dev: dev, key: stanzaKey(class, typ, id), id: id, class: class, node: node}
	s.mu.Lock()
	s.outbox = append(s.outbox, st)
	c := s.conns[dev]
	if c != nil && !c.ready {
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.deliver([]*stanza{st})
	}
}

// deliver sends stanzas that are still unacknowledged.
func (c *conn) deliver(sts []*stanza) {
	for _, st := range sts {
		c.s.mu.Lock()
		skip := st.acked
		if !skip {
			st.sent++
			st.lastSent = time.Now()
		}
		c.s.mu.Unlock()
		if skip {
			continue
		}
		if err := c.send(st.node); err != nil {
			c.s.debugf("%v", err)
			c.close()
			return
		}
	}
}

// flushOutbox sends what the device missed while offline, then the
// <ib><offline/></ib> marker that ends the offline batch. From then on new
// stanzas go out as they come.
func (c *conn) flushOutbox() {
	c.s.mu.Lock()
	var pending []*stanza
	for _, st := range c.s.outbox {
		if st.dev == c.dev && !st.acked {
			pending = append(pending, st)
		}
	}
	c.ready = true
	c.s.mu.Unlock()
	c.deliver(pending)
	c.sendOrClose(waBinary.Node{Tag: "ib", Content: []waBinary.Node{
		{Tag: "offline", Attrs: waBinary.Attrs{"count": len(pending)}},
	}})
}

// markAcked records the device's acknowledgement of a stanza.
func (s *Server) markAcked(dev types.JID, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for _, st := range s.outbox {
		if st.dev == dev && st.key == key && !st.acked {
			st.acked, found = true, true
		}
	}
	if found {
		s.notifyLocked()
	}
	return found
}

// handleReceipt takes a client's receipt for a message it received: any
// receipt but a retry request acknowledges the message. The server answers
// with an <ack>, as WhatsApp does.
func (c *conn) handleReceipt(node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	if c.dev.IsEmpty() || id == "" {
		return
	}
	typ, _ := node.Attrs["type"].(string)
	ids := []string{id}
	for _, item := range children(node.GetChildByTag("list")) {
		if itemID, ok := item.Attrs["id"].(string); ok && item.Tag == "item" {
			ids = append(ids, itemID)
		}
	}
	if typ == "server-error" {
		c.s.recordMediaRetry(id)
	}
	if typ != "retry" {
		for _, i := range ids {
			c.s.markAcked(c.dev, stanzaKey("message", "", i))
		}
	} else {
		c.s.answerRetry(c.dev, node)
	}
	ack := waBinary.Node{Tag: "ack", Attrs: waBinary.Attrs{"class": "receipt", "id": id}}
	if to, ok := node.Attrs["to"].(types.JID); ok {
		ack.Attrs["from"] = to
	}
	if typ != "" {
		ack.Attrs["type"] = typ
	}
	c.sendOrClose(ack)
}

// handleAck takes a client's <ack> for a stanza the server sent (an ack
// with an error code is still an ack: the client will not take it again).
func (c *conn) handleAck(node *waBinary.Node) {
	class, _ := node.Attrs["class"].(string)
	id, _ := node.Attrs["id"].(string)
	if c.dev.IsEmpty() || id == "" {
		return
	}
	typ := ""
	if class != "message" {
		typ, _ = node.Attrs["type"].(string)
	}
	if code, ok := node.Attrs["error"]; ok {
		c.s.debugf("client %s nacked %s %s with error %v", c.dev, class, id, code)
	}
	c.s.markAcked(c.dev, stanzaKey(class, typ, id))
}

// SendText delivers a text message from the contact fromPhone to a paired
// client, with WhatsApp message id msgID. See SendMessage.
func (s *Server) SendText(to types.JID, fromPhone, msgID, text string) error {
	return s.SendMessage(to, fromPhone, msgID, &waE2E.Message{Conversation: proto.String(text)})
}

// SendMessage encrypts msg as the contact fromPhone's phone (a pkmsg from
// the client's uploaded prekeys while the session is new, then msg) and
// delivers it to the paired client device to, or, when to is a user JID
// (device 0), to every client paired to that account, as WhatsApp fans a
// message out to a user's devices. Delivery is immediate for a connected
// device, on its next login otherwise, and repeated on every login (and
// every Config.RedeliverEvery) until the client acknowledges it.
//
// It returns ErrBadPhone, ErrUnknownDevice, or an encryption error.
func (s *Server) SendMessage(to types.JID, fromPhone, msgID string, msg *waE2E.Message) error {
	p, err := normalizePhone(fromPhone)
	if err != nil {
		return err
	}
	plain, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal message: %w", err)
	}
	s.mu.Lock()
	u := s.addUserLocked(p)
	phone, pushName := u.phoneDev, u.pushName
	targets := s.targetsLocked(to)
	s.mu.Unlock()
	if len(targets) == 0 {
		return fmt.Errorf("send to %s: %w", to, ErrUnknownDevice)
	}
	for _, dev := range targets {
		s.mu.Lock()
		attrs := s.senderLocked(u, dev)
		s.contactedLocked(dev, u)
		s.mu.Unlock()
		encType, ct, err := s.encryptTo(phone, dev, pad(plain))
		if err != nil {
			return err
		}
		attrs["id"], attrs["t"], attrs["type"], attrs["notify"] = msgID, now(), messageType(msg), pushName
		s.enqueue(dev, "message", msgID, waBinary.Node{
			Tag:     "message",
			Attrs:   attrs,
			Content: []waBinary.Node{{Tag: "enc", Attrs: encAttrs(encType, msg), Content: ct}},
		})
	}
	return nil
}

// targetsLocked resolves a destination to paired client devices: the
// device itself, or every companion of a user JID. s.mu must be held.
func (s *Server) targetsLocked(to types.JID) []types.JID {
	if to.Device != 0 {
		if _, ok := s.companions[to]; ok {
			return []types.JID{to}
		}
		return nil
	}
	u, ok := s.users[to.User]
	if !ok || to.Server != types.DefaultUserServer {
		return nil
	}
	return u.devices()[1:]
}

// encryptTo encrypts as an emulated phone for a paired client, fetching
// the client's prekey bundle when there is no session yet.
func (s *Server) encryptTo(phone *emuDevice, to types.JID, plaintext []byte) (string, []byte, error) {
	var bundle *bundleKeys
	if !phone.hasSession(to) {
		b, ok := s.takeBundle(to)
		if !ok {
			return "", nil, fmt.Errorf("send to %s: %w", to, ErrUnknownDevice)
		}
		bundle = &b
	}
	return phone.encrypt(context.Background(), to, bundle, plaintext)
}

func messageType(msg *waE2E.Message) string {
	switch {
	case msg.Conversation != nil, msg.ExtendedTextMessage != nil:
		return "text"
	case msg.ReactionMessage != nil:
		return "reaction"
	default:
		return "media"
	}
}

func encAttrs(encType string, msg *waE2E.Message) waBinary.Attrs {
	attrs := waBinary.Attrs{"v": "2", "type": encType}
	switch {
	case msg.DocumentMessage != nil:
		attrs["mediatype"] = "document"
	case msg.ImageMessage != nil:
		attrs["mediatype"] = "image"
	case msg.AudioMessage != nil:
		attrs["mediatype"] = "audio"
	case msg.VideoMessage != nil:
		attrs["mediatype"] = "video"
	}
	return attrs
}

// SendReceipt delivers a receipt from the contact fromPhone to a paired
// client device (or every client of a user JID, like SendMessage), for
// messages the client sent: typ is "" or "delivered" for delivery, or
// "read", "played". Like messages, receipts wait for an offline device and
// are resent until acknowledged.
//
// It returns ErrBadPhone, or ErrUnknownDevice.
func (s *Server) SendReceipt(to types.JID, fromPhone, typ string, msgIDs ...string) error {
	p, err := normalizePhone(fromPhone)
	if err != nil {
		return err
	}
	if len(msgIDs) == 0 {
		return fmt.Errorf("send receipt: no message ids")
	}
	s.mu.Lock()
	u := s.addUserLocked(p)
	from := s.senderLocked(u, types.EmptyJID)
	targets := s.targetsLocked(to)
	s.mu.Unlock()
	if len(targets) == 0 {
		return fmt.Errorf("send receipt to %s: %w", to, ErrUnknownDevice)
	}
	node := receiptNode(from, typ, msgIDs)
	for _, dev := range targets {
		s.enqueue(dev, "receipt", msgIDs[0], node)
	}
	return nil
}

// receiptNode builds a receipt for msgIDs whose sender attributes (from,
// sender_pn) are from.
func receiptNode(from waBinary.Attrs, typ string, msgIDs []string) waBinary.Node {
	attrs := waBinary.Attrs{"id": msgIDs[0], "t": now()}
	for k, v := range from {
		attrs[k] = v
	}
	node := waBinary.Node{Tag: "receipt", Attrs: attrs}
	if typ != "" && typ != "delivered" {
		node.Attrs["type"] = typ
	}
	if len(msgIDs) > 1 {
		items := make([]waBinary.Node, 0, len(msgIDs)-1)
		for _, id := range msgIDs[1:] {
			items = append(items, waBinary.Node{Tag: "item", Attrs: waBinary.Attrs{"id": id}})
		}
		node.Content = []waBinary.Node{{Tag: "list", Content: items}}
	}
	return node
}

// Acked reports whether a client acknowledged the message msgID the server
// delivered to it (with a receipt or an ack).
func (s *Server) Acked(msgID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackedLocked(stanzaKey("message", "", msgID))
}

func (s *Server) ackedLocked(key string) bool {
	return slices.ContainsFunc(s.outbox, func(st *stanza) bool { return st.key == key && st.acked })
}

// WaitAcked blocks until a client acknowledges the message msgID. It
// returns an error wrapping ctx's when ctx ends first, or ErrClosed.
func (s *Server) WaitAcked(ctx context.Context, msgID string) error {
	key := stanzaKey("message", "", msgID)
	return s.waitFor(ctx, func() bool { return s.ackedLocked(key) })
}

// ReceiptAcked reports whether a client acknowledged the receipt of type
// typ ("" for delivery) for msgID that the server delivered to it.
func (s *Server) ReceiptAcked(msgID, typ string) bool {
	if typ == "delivered" {
		typ = ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackedLocked(stanzaKey("receipt", typ, msgID))
}

// Deliveries reports how many times the server has sent the message msgID
// to a client (1, then one more per redelivery).
func (s *Server) Deliveries(msgID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.outbox {
		if st.class == "message" && st.id == msgID {
			n += st.sent
		}
	}
	return n
}

// redeliverLoop resends stanzas that connected devices have not
// acknowledged within Config.RedeliverEvery.
func (s *Server) redeliverLoop() {
	tick := time.NewTicker(s.cfg.RedeliverEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		due := map[*conn][]*stanza{}
		s.mu.Lock()
		for _, st := range s.outbox {
			c := s.conns[st.dev]
			if c != nil && c.ready && !st.acked && st.sent > 0 && time.Since(st.lastSent) >= s.cfg.RedeliverEvery {
				due[c] = append(due[c], st)
			}
		}
		s.mu.Unlock()
		for c, sts := range due {
			c.deliver(sts)
		}
	}
}
