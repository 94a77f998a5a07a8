package waemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// refusals are the server's answers to a client's messages that are error
// acks instead of deliveries, by account phone number. They are kept under
// Server.mu; their maps are created on first use.
type refusals struct {
	// restricted: until when the account may not reach new contacts.
	restricted map[string]time.Time
	// rejects: the error codes the account's next messages get, in order.
	rejects map[string][]int
	// contacts: the contacts the account exchanged a message with.
	contacts map[string]map[string]bool
	// tokens: the trusted-contact tokens contacts issued to the account.
	tokens map[string]map[string][]byte
}

// ErrorRestricted is the error code of the ack WhatsApp answers a message
// with while the account may not reach new contacts.
const ErrorRestricted = 463

// accountLocked returns the account that device JID (any of its devices,
// or its user JID) belongs to. s.mu must be held.
func (s *Server) accountLocked(account types.JID) (*user, error) {
	u, ok := s.users[account.User]
	if !ok || account.Server != types.DefaultUserServer {
		return nil, fmt.Errorf("account %s: %w", account, ErrUnknownDevice)
	}
	return u, nil
}

// Restrict makes the server refuse, for d, the account's messages to
// contacts it never exchanged a message with: each gets an error ack 463,
// as WhatsApp answers an account that may not reach new contacts for now,
// and reaches no one. Contacts the account wrote to or heard from, and
// contacts whose trusted-contact token the message carries (see
// IssuePrivacyToken), still get its messages; so do groups. d <= 0 lifts
// the restriction. account is any device JID of the account. It returns
// ErrUnknownDevice.
func (s *Server) Restrict(account types.JID, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.accountLocked(account)
	if err != nil {
		return err
	}
	if s.refusals.restricted == nil {
		s.refusals.restricted = map[string]time.Time{}
	}
	if d <= 0 {
		delete(s.refusals.restricted, u.phone)
		return nil
	}
	s.refusals.restricted[u.phone] = time.Now().Add(d)
	return nil
}

// RejectSends answers the account's next n messages with an error ack of
// code (429 rate limited, 479, 500...) instead of delivering them, after
// any rejections still pending. It returns ErrUnknownDevice.
func (s *Server) RejectSends(account types.JID, code, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, err := s.accountLocked(account)
	if err != nil {
		return err
	}
	if s.refusals.rejects == nil {
		s.refusals.rejects = map[string][]int{}
	}
	for range n {
		s.refusals.rejects[u.phone] = append(s.refusals.rejects[u.phone], code)
	}
	return nil
}

// refusal returns the error code a message stanza from device from to to
// gets instead of delivery, or 0 to deliver it.
func (s *Server) refusal(from, to types.JID, node *waBinary.Node) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	acct := from.User
	if codes := s.refusals.rejects[acct]; len(codes) > 0 {
		s.refusals.rejects[acct] = codes[1:]
		return codes[0]
	}
	until, ok := s.refusals.restricted[acct]
	if !ok || !time.Now().Before(until) {
		return 0
	}
	contact, ok := s.userByJIDLocked(to)
	if !ok || contact.phone == acct || s.refusals.contacts[acct][contact.phone] {
		return 0
	}
	if tc, ok := node.GetOptionalChildByTag("tctoken"); ok {
		token, _ := tc.Content.([]byte)
		if issued := s.refusals.tokens[acct][contact.phone]; len(issued) > 0 && bytes.Equal(token, issued) {
			return 0
		}
	}
	return ErrorRestricted
}

// contactedLocked records that the account of device dev and contact u
// exchanged a message. s.mu must be held.
func (s *Server) contactedLocked(dev types.JID, u *user) {
	if s.refusals.contacts == nil {
		s.refusals.contacts = map[string]map[string]bool{}
	}
	if s.refusals.contacts[dev.User] == nil {
		s.refusals.contacts[dev.User] = map[string]bool{}
	}
	s.refusals.contacts[dev.User][u.phone] = true
}

// contacted records that a client's message to to was delivered.
func (s *Server) contacted(dev, to types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.userByJIDLocked(to); ok {
		s.contactedLocked(dev, u)
	}
}

// IssuePrivacyToken delivers a trusted-contact token (tctoken) from the
// contact fromPhone to every client of the account, in a privacy_token
// notification, as WhatsApp does when a contact's phone issues one.
// whatsmeow stores it and puts it in its messages to that contact, which a
// restriction (Restrict) lets through. It returns the notification's id
// (see WaitNotificationAcked), ErrBadPhone or ErrUnknownDevice.
func (s *Server) IssuePrivacyToken(account types.JID, fromPhone string) (string, error) {
	p, err := normalizePhone(fromPhone)
	if err != nil {
		return "", err
	}
	token := make([]byte, 32)
	rand.Read(token)
	id := s.nextID()
	s.mu.Lock()
	owner, err := s.accountLocked(account)
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	contact := s.addUserLocked(p)
	if s.refusals.tokens == nil {
		s.refusals.tokens = map[string]map[string][]byte{}
	}
	if s.refusals.tokens[owner.phone] == nil {
		s.refusals.tokens[owner.phone] = map[string][]byte{}
	}
	s.refusals.tokens[owner.phone][contact.phone] = token
	targets := owner.devices()[1:]
	node := waBinary.Node{
		Tag: "notification",
		Attrs: waBinary.Attrs{
			"from": contact.jid(), "sender_lid": contact.lid, "id": id, "type": "privacy_token", "t": now(),
		},
		Content: []waBinary.Node{{Tag: "tokens", Content: []waBinary.Node{{
			Tag:     "token",
			Attrs:   waBinary.Attrs{"jid": owner.jid(), "t": now(), "type": "trusted_contact"},
			Content: token,
		}}}},
	}
	s.mu.Unlock()
	if len(targets) == 0 {
		return "", fmt.Errorf("issue privacy token to %s: %w", account, ErrUnknownDevice)
	}
	for _, dev := range targets {
		s.enqueue(dev, "notification", id, node)
	}
	return id, nil
}

// WaitNotificationAcked blocks until a client acknowledges the
// privacy_token notification id. It returns an error wrapping ctx's when
// ctx ends first, or ErrClosed.
func (s *Server) WaitNotificationAcked(ctx context.Context, id string) error {
	key := stanzaKey("notification", "privacy_token", id)
	return s.waitFor(ctx, func() bool { return s.ackedLocked(key) })
}
