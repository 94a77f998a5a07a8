package waemu

import (
	"fmt"
	"strconv"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waLidMigrationSyncPayload"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// Addressing is how the server names a contact as the sender of the
// messages and receipts it delivers from that contact.
type Addressing int

const (
	// AddressPN names the contact by phone number: from=<phone>@s.whatsapp.net
	// (the default, a chat before its LID migration).
	AddressPN Addressing = iota
	// AddressLID names the contact by LID, with the phone number beside:
	// from=<lid>@lid sender_pn=<phone>@s.whatsapp.net, as WhatsApp does for a
	// chat migrated to LID addressing. whatsmeow stores the mapping.
	AddressLID
	// AddressLIDOnly names the contact by LID alone: the client must know
	// the phone number from its LID map (an earlier message, a usync answer
	// or a LID migration sync from the phone).
	AddressLIDOnly
)

// SetAddressing changes how the contact phone's messages and receipts name
// it from now on: SetAddressing(phone, AddressLID) mid-conversation is the
// chat's LID migration. It returns ErrBadPhone.
func (s *Server) SetAddressing(phone string, a Addressing) error {
	p, err := normalizePhone(phone)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(p)
	if s.addressing == nil {
		s.addressing = map[string]Addressing{}
	}
	s.addressing[p] = a
	return nil
}

// LID returns the LID of phone's account (created as AddContact does). It
// returns ErrBadPhone.
func (s *Server) LID(phone string) (types.JID, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(p).lid, nil
}

// senderLocked returns the attributes that name contact u as the sender of
// a stanza for client device dev: from, and sender_pn when addressed by
// LID. The first LID-addressed message of u to dev starts a new session
// (a pkmsg): the client keeps sessions by the sender's address, and may not
// have moved the phone-number one to the LID. s.mu must be held.
func (s *Server) senderLocked(u *user, dev types.JID) waBinary.Attrs {
	if a := s.addressing[u.phone]; a != AddressPN && !dev.IsEmpty() {
		key := u.phone + ">" + dev.String()
		if s.lidSessions == nil {
			s.lidSessions = map[string]bool{}
		}
		if !s.lidSessions[key] {
			s.lidSessions[key] = true
			u.phoneDev.forget(dev)
		}
	}
	switch s.addressing[u.phone] {
	case AddressLID:
		return waBinary.Attrs{"from": u.lid, "sender_pn": u.jid()}
	case AddressLIDOnly:
		return waBinary.Attrs{"from": u.lid}
	}
	return waBinary.Attrs{"from": u.phoneDev.jid}
}

// SendLIDMigration delivers, as the account's own phone, the LID migration
// mapping sync that WhatsApp's phones send their linked devices: the LIDs of
// the given contacts (phones), which whatsmeow stores in its LID map. It
// goes to every client paired to the account of account (any of its device
// JIDs), waits for an offline device, and is resent until acknowledged. It
// returns ErrBadPhone, ErrUnknownDevice, or an encryption error.
func (s *Server) SendLIDMigration(account types.JID, msgID string, phones ...string) error {
	payload := &waLidMigrationSyncPayload.LIDMigrationMappingSyncPayload{}
	s.mu.Lock()
	for _, phone := range phones {
		p, err := normalizePhone(phone)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		u := s.addUserLocked(p)
		pn, _ := strconv.ParseUint(u.phone, 10, 64)
		lid, _ := strconv.ParseUint(u.lid.User, 10, 64)
		payload.PnToLidMappings = append(payload.PnToLidMappings, &waLidMigrationSyncPayload.LIDMigrationMapping{
			Pn: proto.Uint64(pn), AssignedLid: proto.Uint64(lid),
		})
	}
	owner, ok := s.users[account.User]
	s.mu.Unlock()
	if !ok || account.Server != types.DefaultUserServer {
		return fmt.Errorf("lid migration for %s: %w", account, ErrUnknownDevice)
	}
	encoded, err := proto.Marshal(payload)
	if err != nil {
		return fmt.Errorf("marshal lid migration payload: %w", err)
	}
	return s.sendFromOwnPhone(owner, msgID, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type:                           waE2E.ProtocolMessage_LID_MIGRATION_MAPPING_SYNC.Enum(),
		LidMigrationMappingSyncMessage: &waE2E.LIDMigrationMappingSyncMessage{EncodedMappingPayload: encoded},
	}})
}

// sendFromOwnPhone delivers a protocol message from owner's phone (device
// 0) to each of its paired clients, as a peer message.
func (s *Server) sendFromOwnPhone(owner *user, msgID string, msg *waE2E.Message) error {
	plain, err := proto.Marshal(msg)
	if err != nil {
		return fmt.Errorf("marshal message: %w", err)
	}
	s.mu.Lock()
	targets := owner.devices()[1:]
	phone := owner.phoneDev
	s.mu.Unlock()
	if len(targets) == 0 {
		return fmt.Errorf("send from the phone of %s: %w", owner.jid(), ErrUnknownDevice)
	}
	for _, dev := range targets {
		encType, ct, err := s.encryptTo(phone, dev, pad(plain))
		if err != nil {
			return err
		}
		s.enqueue(dev, "message", msgID, waBinary.Node{
			Tag: "message",
			Attrs: waBinary.Attrs{
				"from": phone.jid, "id": msgID, "t": now(), "type": "text", "category": "peer",
			},
			Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": encType}, Content: ct}},
		})
	}
	return nil
}

// forget drops the device's session with peer, so that its next message
// to peer starts a new one.
func (d *emuDevice) forget(peer types.JID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.sessions, peer.SignalAddress().String())
}

// phoneForm returns a LID device JID as the same device of the phone
// number, and any other JID as it is.
func (s *Server) phoneForm(j types.JID) types.JID {
	if j.Server != types.HiddenUserServer {
		return j
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.lids[j.User]; ok {
		pn := u.jid()
		pn.Device = j.Device
		return pn
	}
	return j
}

// phoneOfLID returns the phone-number JID of a LID user, which WhatsApp
// puts beside a LID recipient (peer_recipient_pn) in the copy of a message
// that goes to the sender's other devices.
func (s *Server) phoneOfLID(j types.JID) (types.JID, bool) {
	if j.Server != types.HiddenUserServer {
		return types.EmptyJID, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.lids[j.User]
	if !ok {
		return types.EmptyJID, false
	}
	return u.jid(), true
}
