package job

import (
	"strings"

	"github.com/wabus/wabus/internal/event"
)

// Recipient number and JID rules.
const (
	// MinPhoneDigits and MaxPhoneDigits bound a phone number (E.164 allows at
	// most 15 digits, country code included).
	MinPhoneDigits = 8
	MaxPhoneDigits = 15

	// UserServer, GroupServer and LIDServer are the JID servers a job may
	// send to.
	UserServer  = "s.whatsapp.net"
	GroupServer = "g.us"
	LIDServer   = "lid"

	// legacyUserServer is the user server of WhatsApp Web clients
	// (whatsapp-web.js), accepted and normalized to UserServer.
	legacyUserServer = "c.us"

	maxJIDPartDigits = 32
)

// Recipient returns the job's recipient normalized: for a phone, the JID
// <digits>@s.whatsapp.net and the digits without "+"; for a user JID, the JID
// with its server in lower case and the digits; for a group or @lid JID, the
// JID and an empty phone. It returns an *Error with code invalid_job when To
// is blank and invalid_recipient when it is neither a phone nor a JID.
func (j *Job) Recipient() (jid string, phone string, err error) {
	jid, phone, e := parseRecipient(j.To)
	if e != nil {
		return "", "", j.fail(e)
	}
	return jid, phone, nil
}

// parseRecipient implements Recipient; see the package doc for the rules.
func parseRecipient(to string) (jid, phone string, err *Error) {
	s := strings.TrimSpace(to)
	if s == "" {
		return "", "", invalidJob("to is required")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		digits, ok := phoneDigits(s)
		if !ok {
			return "", "", invalidRecipient("to must be a phone number of %d-%d digits or a JID", MinPhoneDigits, MaxPhoneDigits)
		}
		return digits + "@" + UserServer, digits, nil
	}
	user, server := s[:at], strings.ToLower(s[at+1:])
	switch server {
	case UserServer, legacyUserServer:
		if !allDigits(user, MinPhoneDigits, MaxPhoneDigits) {
			return "", "", invalidRecipient("a user JID must be <%d-%d digits>@%s", MinPhoneDigits, MaxPhoneDigits, UserServer)
		}
		return user + "@" + UserServer, user, nil
	case GroupServer:
		id, suffix, dash := strings.Cut(user, "-")
		if !allDigits(id, 1, maxJIDPartDigits) || dash && !allDigits(suffix, 1, maxJIDPartDigits) {
			return "", "", invalidRecipient("a group JID must be <digits>[-<digits>]@%s", GroupServer)
		}
		return user + "@" + GroupServer, "", nil
	case LIDServer:
		if !allDigits(user, 1, maxJIDPartDigits) {
			return "", "", invalidRecipient("a hidden user JID must be <digits>@%s", LIDServer)
		}
		return user + "@" + LIDServer, "", nil
	}
	return "", "", invalidRecipient("a JID must end in @%s, @%s or @%s", UserServer, GroupServer, LIDServer)
}

// phoneDigits returns the digits of an E.164 phone, with or without a
// leading "+", after dropping the separators ' ', '-', '(', ')' and '.'; ok is
// false for any other character or a digit count outside
// MinPhoneDigits-MaxPhoneDigits.
func phoneDigits(s string) (digits string, ok bool) {
	s = strings.TrimPrefix(s, "+")
	b := make([]byte, 0, MaxPhoneDigits)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			if len(b) == MaxPhoneDigits {
				return "", false
			}
			b = append(b, c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	if len(b) < MinPhoneDigits {
		return "", false
	}
	return string(b), true
}

// allDigits reports whether s is lo-hi ASCII digits.
func allDigits(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func invalidRecipient(msg string, args ...any) *Error {
	e := invalidJob(msg, args...)
	e.Code = event.CodeInvalidRecipient
	return e
}
