package waemu

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// This file is the emulator's half of WhatsApp's retry machinery:
//
//   - a contact's message that a client cannot decrypt (SendUndecryptable)
//     or that reaches it as unavailable (SendUnavailable): the client asks
//     the sender for it again with a retry receipt, and its own phone with
//     a placeholder resend request (a peer message);
//   - a recipient that cannot decrypt what a client sent (RequestRetry):
//     the recipient's retry receipt, with fresh keys, makes the client
//     encrypt the same message again.

// heldMessage is a message a contact sent that the emulated phones keep,
// to send it again on request.
type heldMessage struct {
	phone  string // the sending contact's digits
	msg    *waE2E.Message
	plain  []byte
	at     time.Time
	resend bool // the contact's phone answers retry receipts
}

// SendUndecryptable delivers msg from the contact fromPhone to a paired
// client (or every client of a user JID, as SendMessage does) as a
// ciphertext the client cannot decrypt, as when the sender's phone used a
// session the client no longer has. The client answers with a retry
// receipt to the sender and a request to its own phone. With resend, the
// contact's phone answers retry receipts by encrypting msg again under the
// same message id; without it the contact stays silent (its phone is
// offline). The client's own phone answers requests for it either way.
//
// It returns ErrBadPhone, ErrUnknownDevice, or a marshalling error.
func (s *Server) SendUndecryptable(to types.JID, fromPhone, msgID string, msg *waE2E.Message, resend bool) error {
	return s.sendHeld(to, fromPhone, msgID, msg, resend, func(*user) []waBinary.Node {
		garbage := make([]byte, 48)
		_, _ = rand.Read(garbage)
		garbage[0] = 0x33 // a Signal message version, with no valid message after it
		return []waBinary.Node{{Tag: "enc", Attrs: encAttrs("msg", msg), Content: garbage}}
	})
}

// SendUnavailable delivers msg from the contact fromPhone to a paired
// client as WhatsApp does when it has no copy the client can decrypt: a
// message stanza with <unavailable/> and no ciphertext. Only the client's
// own phone can give it the message (on request). It returns ErrBadPhone,
// ErrUnknownDevice, or a marshalling error.
func (s *Server) SendUnavailable(to types.JID, fromPhone, msgID string, msg *waE2E.Message) error {
	return s.sendHeld(to, fromPhone, msgID, msg, false, func(*user) []waBinary.Node {
		return []waBinary.Node{{Tag: "unavailable"}}
	})
}

// sendHeld keeps msg for the phones and delivers a message stanza with
// content to each target device.
func (s *Server) sendHeld(to types.JID, fromPhone, msgID string, msg *waE2E.Message, resend bool, content func(*user) []waBinary.Node) error {
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
	targets := s.targetsLocked(to)
	if len(targets) > 0 {
		if s.held == nil {
			s.held = make(map[string]*heldMessage)
		}
		s.held[msgID] = &heldMessage{phone: p, msg: msg, plain: plain, at: time.Now(), resend: resend}
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return fmt.Errorf("send to %s: %w", to, ErrUnknownDevice)
	}
	for _, dev := range targets {
		s.greet(dev)
		s.enqueue(dev, "message", msgID, waBinary.Node{
			Tag: "message",
			Attrs: waBinary.Attrs{
				"from": u.jid(), "id": msgID, "t": now(), "type": messageType(msg), "notify": u.pushName,
			},
			Content: content(u),
		})
	}
	return nil
}

// greet has the account's phone send its client dev a protocol message
// (the notification setting sync real phones send after linking), unless
// it has done so: a client can ask its phone for messages only over a
// session the phone started.
func (s *Server) greet(dev types.JID) {
	s.mu.Lock()
	u, ok := s.users[dev.User]
	s.mu.Unlock()
	if !ok || u.phoneDev.hasSession(dev) {
		return
	}
	hello := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC.Enum(),
		InitialSecurityNotificationSettingSync: &waE2E.InitialSecurityNotificationSettingSync{
			SecurityNotificationEnabled: proto.Bool(false),
		},
	}}
	s.sendFromPhone(u.phoneDev, dev, hello, "")
}

// answerRetry takes a client's retry receipt for a message it could not
// decrypt: the sending contact's phone encrypts the message again, with the
// keys the receipt carries when it has them, and delivers it under the same
// id, unless the contact was made silent.
func (s *Server) answerRetry(dev types.JID, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	retry := node.GetChildByTag("retry")
	count := retry.AttrGetter().OptionalInt("count")
	s.mu.Lock()
	s.retries = append(s.retries, id)
	s.notifyLocked()
	h := s.held[id]
	var u *user
	if h != nil {
		u = s.users[h.phone]
	}
	s.mu.Unlock()
	if h == nil || !h.resend || u == nil {
		s.debugf("retry receipt from %s for %s: not answered", dev, id)
		return
	}
	if b, ok := receiptBundle(node); ok {
		u.phoneDev.forgetSession(dev)
		s.resendTo(u, dev, id, h, count, &b)
		return
	}
	s.resendTo(u, dev, id, h, count, nil)
}

// resendTo encrypts a held message again for dev and delivers it.
func (s *Server) resendTo(u *user, dev types.JID, id string, h *heldMessage, count int, bundle *bundleKeys) {
	var encType string
	var ct []byte
	var err error
	if bundle != nil {
		encType, ct, err = u.phoneDev.encrypt(context.Background(), dev, bundle, pad(h.plain))
	} else {
		encType, ct, err = s.encryptTo(u.phoneDev, dev, pad(h.plain))
	}
	if err != nil {
		s.logf("resend %s to %s: %v", id, dev, err)
		return
	}
	attrs := encAttrs(encType, h.msg)
	attrs["count"] = count
	s.enqueue(dev, "message", id, waBinary.Node{
		Tag:     "message",
		Attrs:   waBinary.Attrs{"from": u.jid(), "id": id, "t": now(), "type": messageType(h.msg), "notify": u.pushName},
		Content: []waBinary.Node{{Tag: "enc", Attrs: attrs, Content: ct}},
	})
}

// receiptBundle reads the keys of a retry receipt (registration, identity,
// one-time and signed prekey), if it has them.
func receiptBundle(node *waBinary.Node) (bundleKeys, bool) {
	keysNode, ok := node.GetOptionalChildByTag("keys")
	reg, _ := node.GetChildByTag("registration").Content.([]byte)
	ident, _ := keysNode.GetChildByTag("identity").Content.([]byte)
	signed, okSigned := parseKeyNode(keysNode.GetChildByTag("skey"))
	if !ok || len(reg) != 4 || len(ident) != 32 || !okSigned {
		return bundleKeys{}, false
	}
	b := bundleKeys{regID: binary.BigEndian.Uint32(reg), signed: signed}
	copy(b.identity[:], ident)
	if k, ok := parseKeyNode(keysNode.GetChildByTag("key")); ok {
		b.prekey = &preKeyPub{id: k.id, pub: k.pub}
	}
	return b, true
}

// RetryReceipts reports how many retry receipts clients sent for msgID (a
// message they could not decrypt).
func (s *Server) RetryReceipts(msgID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return occurrences(s.retries, msgID)
}

// occurrences reports how many of ids are id.
func occurrences(ids []string, id string) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// answerPeerRequest takes a peer message a client sent to its own phone
// and answers placeholder resend requests (the client asking for messages
// it could not decrypt) for held messages; it reports whether msg was such
// a request. The answer is a peer message from the phone carrying each
// message as WhatsApp Web's WebMessageInfo.
func (s *Server) answerPeerRequest(phone *emuDevice, from types.JID, reqID string, msg *waE2E.Message) bool {
	req := msg.GetProtocolMessage().GetPeerDataOperationRequestMessage()
	if msg.GetProtocolMessage().GetType() != waE2E.ProtocolMessage_PEER_DATA_OPERATION_REQUEST_MESSAGE ||
		req.GetPeerDataOperationRequestType() != waE2E.PeerDataOperationRequestType_PLACEHOLDER_MESSAGE_RESEND {
		return false
	}
	s.mu.Lock()
	dev := from
	if comp, ok := s.companionLocked(from); ok {
		dev = comp.jid
	}
	var results []*waE2E.PeerDataOperationRequestResponseMessage_PeerDataOperationResult
	for _, r := range req.GetPlaceholderMessageResendRequest() {
		id := r.GetMessageKey().GetID()
		h := s.held[id]
		if h == nil {
			continue
		}
		s.phoneRequests = append(s.phoneRequests, id)
		if web, err := s.webMessageLocked(id, h); err == nil {
			results = append(results, &waE2E.PeerDataOperationRequestResponseMessage_PeerDataOperationResult{
				PlaceholderMessageResendResponse: &waE2E.PeerDataOperationRequestResponseMessage_PeerDataOperationResult_PlaceholderMessageResendResponse{
					WebMessageInfoBytes: web,
				},
			})
		}
	}
	s.notifyLocked()
	s.mu.Unlock()
	if len(results) > 0 {
		s.sendPeerResponse(phone, dev, reqID, results)
	}
	return true
}

// webMessageLocked renders a held message as the phone's copy of it.
// s.mu must be held.
func (s *Server) webMessageLocked(id string, h *heldMessage) ([]byte, error) {
	u := s.users[h.phone]
	return proto.Marshal(&waWeb.WebMessageInfo{
		Key:              &waCommon.MessageKey{RemoteJID: proto.String(u.jid().String()), FromMe: proto.Bool(false), ID: proto.String(id)},
		Message:          h.msg,
		MessageTimestamp: proto.Uint64(uint64(h.at.Unix())),
		PushName:         proto.String(u.pushName),
	})
}

// sendPeerResponse delivers the phone's answer to a client's request.
func (s *Server) sendPeerResponse(phone *emuDevice, dev types.JID, reqID string, results []*waE2E.PeerDataOperationRequestResponseMessage_PeerDataOperationResult) {
	s.sendFromPhone(phone, dev, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE.Enum(),
		PeerDataOperationRequestResponseMessage: &waE2E.PeerDataOperationRequestResponseMessage{
			PeerDataOperationRequestType: waE2E.PeerDataOperationRequestType_PLACEHOLDER_MESSAGE_RESEND.Enum(),
			StanzaID:                     proto.String(reqID),
			PeerDataOperationResult:      results,
		},
	}}, "peer")
}

// sendFromPhone delivers msg from an account's phone to one of its clients,
// with the given category ("" for none).
func (s *Server) sendFromPhone(phone *emuDevice, dev types.JID, msg *waE2E.Message, category string) {
	plain, err := proto.Marshal(msg)
	if err != nil {
		s.logf("marshal message from the phone: %v", err)
		return
	}
	encType, ct, err := s.encryptTo(phone, dev, pad(plain))
	if err != nil {
		s.logf("message from the phone to %s: %v", dev, err)
		return
	}
	id := s.nextID()
	attrs := waBinary.Attrs{"from": phone.jid, "id": id, "t": now(), "type": "text"}
	if category != "" {
		attrs["category"] = category
	}
	s.enqueue(dev, "message", id, waBinary.Node{
		Tag: "message", Attrs: attrs,
		Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": encType}, Content: ct}},
	})
}

// PhoneRequests reports how many times clients asked their own phone for
// the message msgID (placeholder resend requests the phone answered).
func (s *Server) PhoneRequests(msgID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return occurrences(s.phoneRequests, msgID)
}

// RequestRetry plays a recipient's phone that could not decrypt the message
// msgID a client sent it: the phone drops its Signal session with the
// sending device and sends the client a retry receipt with fresh keys, as
// WhatsApp clients do. The client must encrypt the same message again; the
// new copy shows in Received with Duplicate set. It returns
// ErrNotOnWhatsApp when no emulated recipient received msgID.
func (s *Server) RequestRetry(msgID string) error {
	s.mu.Lock()
	i := slices.IndexFunc(s.received, func(r Received) bool { return r.ID == msgID })
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("retry %s: %w", msgID, ErrNotOnWhatsApp)
	}
	r := s.received[i]
	u, _ := s.userByJIDLocked(r.To)
	var lid types.JID
	if comp, ok := s.companions[r.From]; ok {
		lid = comp.lid
	}
	s.mu.Unlock()
	if u == nil {
		return fmt.Errorf("retry %s: %w", msgID, ErrNotOnWhatsApp)
	}
	u.phoneDev.forgetSession(r.From)
	if !lid.IsEmpty() {
		u.phoneDev.forgetSession(lid)
	}
	from := r.ToJID.ToNonAD() // the recipient as the client addressed it
	s.enqueue(r.From, "receipt", msgID, retryReceiptNode(from, msgID, r.At, u.phoneDev.takeBundle()))
	return nil
}

// retryReceiptNode is a recipient's retry receipt for msgID, first retry,
// carrying the recipient's keys so that the sender builds a new session.
func retryReceiptNode(from types.JID, msgID string, sent time.Time, b bundleKeys) waBinary.Node {
	keys := bundleNode(from, b)
	var inner []waBinary.Node
	for _, c := range children(keys) {
		if c.Tag != "registration" {
			inner = append(inner, c)
		}
	}
	return waBinary.Node{
		Tag:   "receipt",
		Attrs: waBinary.Attrs{"from": from, "id": msgID, "type": "retry", "t": now()},
		Content: []waBinary.Node{
			{Tag: "retry", Attrs: waBinary.Attrs{"count": 1, "id": msgID, "t": sent.Unix(), "v": 1}},
			{Tag: "registration", Content: binary.BigEndian.AppendUint32(nil, b.regID)},
			{Tag: "keys", Content: inner},
		},
	}
}

// forgetSession drops the device's Signal session with peer, as a phone
// that lost it (reinstalled, restored a backup) has none.
func (d *emuDevice) forgetSession(peer types.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sessions, peer.SignalAddress().String())
}
