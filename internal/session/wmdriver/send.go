package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// Send delivers msg under the message id msg.ID, so that a retry of the same
// job reaches the recipient as the same message. Audio and stickers carry no
// caption in WhatsApp: their Text is not sent. It returns a *wa.SendError
// with code invalid_recipient for a malformed or unusable recipient,
// not_on_whatsapp when WhatsApp knows no account for it, invalid_job for
// unsendable content, media_invalid for empty media and media_too_large when
// WhatsApp refuses the upload's size; an error wrapping wa.ErrNotConnected
// when the Conn is not logged in; other (transient) errors otherwise.
func (c *conn) Send(ctx context.Context, msg *wa.OutMessage) (*wa.SendResult, error) {
	to, err := parseRecipient(msg.To)
	if err != nil {
		return nil, err
	}
	if !c.IsConnected() {
		return nil, fmt.Errorf("send message: %w", wa.ErrNotConnected)
	}
	m, err := buildMessage(ctx, msg, to, c.client.Upload)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.SendMessage(ctx, to, m, whatsmeow.SendRequestExtra{ID: msg.ID})
	if err != nil {
		return nil, sendError(err)
	}
	return &wa.SendResult{ID: resp.ID, Timestamp: resp.Timestamp.UTC()}, nil
}

// parseRecipient parses a user (phone or LID) or group JID without a
// device part.
func parseRecipient(to string) (types.JID, error) {
	jid, err := types.ParseJID(to)
	if err == nil && !validRecipient(jid) {
		err = errors.New("not a user or group jid")
	}
	if err != nil {
		return types.JID{}, &wa.SendError{Code: event.CodeInvalidRecipient, Err: fmt.Errorf("parse recipient %q: %w", to, err)}
	}
	return jid, nil
}

func validRecipient(j types.JID) bool {
	if j.Device != 0 || j.RawAgent != 0 || j.User == "" {
		return false
	}
	switch j.Server {
	case types.DefaultUserServer:
		return len(j.User) >= 8 && len(j.User) <= 15 && onlyChars(j.User, "0123456789")
	case types.GroupServer:
		return onlyChars(j.User, "0123456789-")
	case types.HiddenUserServer:
		return onlyChars(j.User, "0123456789")
	}
	return false
}

func onlyChars(s, allowed string) bool {
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return false
		}
	}
	return true
}

// sendError classifies an error of whatsmeow's SendMessage.
func sendError(err error) error {
	wrapped := fmt.Errorf("send message: %w", err)
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("send message: %w: %w", wa.ErrNotConnected, err)
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported), errors.Is(err, whatsmeow.ErrGroupNotFound),
		errors.Is(err, whatsmeow.ErrNotInGroup):
		return &wa.SendError{Code: event.CodeInvalidRecipient, Err: wrapped}
	case strings.Contains(err.Error(), "no LID found for"):
		// whatsmeow's answer when the server knows no account for the number.
		return &wa.SendError{Code: event.CodeNotOnWhatsApp, Err: wrapped}
	}
	return wrapped
}
