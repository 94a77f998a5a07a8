package waemu

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// user is a WhatsApp account the server knows: a contact the tests talk to,
// or the account whose phone paired a whatsmeow client. Its primary phone
// (device 0) is emulated; its companions are real clients.
type user struct {
	phone      string // digits
	lid        types.JID
	pushName   string
	phoneDev   *emuDevice
	companions []uint16 // device ids of paired clients, in pairing order
	nextDevice uint16
}

func (u *user) jid() types.JID { return types.NewJID(u.phone, types.DefaultUserServer) }

// devices lists the user's device JIDs: the phone, then its companions.
func (u *user) devices() []types.JID {
	out := []types.JID{u.jid()}
	for _, d := range u.companions {
		j := u.jid()
		j.Device = d
		out = append(out, j)
	}
	return out
}

// companion is a whatsmeow client device paired through this server: what
// the server learnt at registration and from its prekey uploads.
type companion struct {
	jid     types.JID
	lid     types.JID
	noise   [32]byte
	keys    bundleKeys // prekey left nil here; see prekeys
	prekeys []preKeyPub
	props   *waCompanionReg.DeviceProps // what the client registered with
}

// takeBundle hands out the companion's keys with one of its uploaded
// one-time prekeys, if it has any left.
func (c *companion) takeBundle() bundleKeys {
	b := c.keys
	if len(c.prekeys) > 0 {
		k := c.prekeys[0]
		c.prekeys = c.prekeys[1:]
		b.prekey = &k
	}
	return b
}

// normalizePhone turns "+51 987-654-321" into "51987654321".
func normalizePhone(phone string) (string, error) {
	var b strings.Builder
	for _, r := range phone {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("%w: %q", ErrBadPhone, phone)
		}
	}
	if b.Len() < 5 || b.Len() > 20 {
		return "", fmt.Errorf("%w: %q", ErrBadPhone, phone)
	}
	return b.String(), nil
}

func randomDigits(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for b.Len() < n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// addUserLocked creates (or returns) the account for phone. s.mu must be
// held.
func (s *Server) addUserLocked(phone string) *user {
	if u, ok := s.users[phone]; ok {
		return u
	}
	u := &user{
		phone:      phone,
		lid:        types.NewJID(randomDigits("1", 15), types.HiddenUserServer),
		pushName:   "Contact " + phone[max(0, len(phone)-4):],
		nextDevice: 1,
	}
	u.phoneDev = newEmuDevice(u.jid(), keys.NewKeyPair())
	s.users[phone] = u
	s.lids[u.lid.User] = u
	return u
}

// userByJIDLocked returns the account a user or device JID names, by
// phone number (s.whatsapp.net) or by LID (lid), creating a phone-number
// account as lookupUserLocked does. s.mu must be held.
func (s *Server) userByJIDLocked(jid types.JID) (*user, bool) {
	switch jid.Server {
	case types.DefaultUserServer:
		return s.lookupUserLocked(jid.User)
	case types.HiddenUserServer:
		u, ok := s.lids[jid.User]
		return u, ok
	}
	return nil, false
}

// companionLocked returns the paired client a device JID names, by phone
// number or by LID. s.mu must be held.
func (s *Server) companionLocked(dev types.JID) (*companion, bool) {
	if dev.Server == types.HiddenUserServer {
		u, ok := s.lids[dev.User]
		if !ok {
			return nil, false
		}
		pn := u.jid()
		pn.Device = dev.Device
		dev = pn
	}
	c, ok := s.companions[dev]
	return c, ok
}

// lidDevices lists the user's devices addressed by LID.
func (u *user) lidDevices() []types.JID {
	out := u.devices()
	for i := range out {
		d := u.lid
		d.Device = out[i].Device
		out[i] = d
	}
	return out
}

// lookupUserLocked returns the account for phone, creating it when the
// number is on WhatsApp by default (see Config.NoAutoContacts). s.mu must
// be held.
func (s *Server) lookupUserLocked(phone string) (*user, bool) {
	if u, ok := s.users[phone]; ok {
		return u, true
	}
	if s.cfg.NoAutoContacts || strings.HasPrefix(phone, "999") {
		return nil, false
	}
	return s.addUserLocked(phone), true
}

// AddContact registers phone (E.164 with or without "+") as a WhatsApp
// user the server emulates, even when it starts with 999. It returns the
// user's JID, or ErrBadPhone.
func (s *Server) AddContact(phone string) (types.JID, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return types.EmptyJID, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addUserLocked(p).jid(), nil
}

// SetPushName sets the display name a contact's messages carry.
// It returns ErrBadPhone.
func (s *Server) SetPushName(phone, name string) error {
	p, err := normalizePhone(phone)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(p).pushName = name
	return nil
}

// Devices lists the device JIDs of phone's account: its emulated phone
// (device 0) and the clients paired to it. It returns ErrBadPhone, or
// ErrNotOnWhatsApp for an unknown number.
func (s *Server) Devices(phone string) ([]types.JID, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[p]
	if !ok {
		return nil, ErrNotOnWhatsApp
	}
	return u.devices(), nil
}

// removeCompanionLocked unlinks a paired client. s.mu must be held.
func (s *Server) removeCompanionLocked(dev types.JID) {
	delete(s.companions, dev)
	if u, ok := s.users[dev.User]; ok {
		u.companions = slices.DeleteFunc(u.companions, func(d uint16) bool { return d == dev.Device })
	}
	s.notifyLocked()
}
