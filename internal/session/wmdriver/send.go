package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// Send delivers msg under the message id msg.ID, so that a retry of the same
// job reaches the recipient as the same message. Audio and stickers carry no
// caption in WhatsApp: their Text is not sent. A reply names the quoted
// message's author (see quoteAuthor). It returns a *wa.SendError with code
// invalid_recipient for a malformed or unusable recipient, not_on_whatsapp
// when WhatsApp knows no account for it, invalid_job for unsendable
// content, media_invalid for empty media, media_too_large when WhatsApp
// refuses the upload's size, and the codes of sendError for WhatsApp's
// refusals (restricted, reported as wa.Restricted first); an error wrapping
// wa.ErrNotConnected when the Conn is not logged in; other (transient)
// errors otherwise.
func (c *conn) Send(ctx context.Context, msg *wa.OutMessage) (*wa.SendResult, error) {
	to, err := parseRecipient(msg.To)
	if err != nil {
		return nil, err
	}
	if !c.IsConnected() {
		return nil, fmt.Errorf("send message: %w", wa.ErrNotConnected)
	}
	if err := c.typing(ctx, msg, to); err != nil {
		return nil, err
	}
	if msg.Kind == vocab.ContentRead {
		return c.markRead(ctx, msg, to)
	}
	var quoted types.JID
	if msg.ReplyTo != "" {
		quoted = c.m.quoteAuthor(msg.ReplyTo, to, c.self(), func() bool { return c.sentBefore(ctx, msg.ReplyTo, to) })
	}
	m, err := buildMessage(ctx, msg, to, quoted, c.client.Upload)
	if err != nil {
		return nil, err
	}
	if msg.Poll != nil {
		c.m.polls.saw(msg.ID, msg.Poll.Options)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("send message: %w", err)
	}
	// Once begun, the send is not cancelled: whatsmeow's giving up on the
	// ack closes the channel its socket reader may be delivering the ack
	// on (a data race, and a panic of the reader when the ack wins). It
	// ends with WhatsApp's answer, whatsmeow's own timeout, or the end of
	// the connection.
	resp, err := c.client.SendMessage(context.WithoutCancel(ctx), to, m, whatsmeow.SendRequestExtra{ID: msg.ID})
	if err != nil {
		return nil, c.refused(sendError(err, to))
	}
	c.m.quotes.sent(resp.ID)
	return &wa.SendResult{ID: resp.ID, Timestamp: resp.Timestamp.UTC(), ToJID: c.deliveredTo(to).String()}, nil
}

// typing shows "typing…" ("recording…" before a voice note) in the chat
// for msg.Typing, then stops showing it. A presence WhatsApp does not take
// is not worth failing the message for: it is sent all the same.
func (c *conn) typing(ctx context.Context, msg *wa.OutMessage, to types.JID) error {
	if msg.Typing <= 0 {
		return nil
	}
	kind := types.ChatPresenceMediaText
	if msg.Kind == vocab.ContentAudio && msg.PTT {
		kind = types.ChatPresenceMediaAudio
	}
	if err := c.client.SendChatPresence(ctx, to, types.ChatPresenceComposing, kind); err != nil {
		c.log.Debug("typing presence not sent", slog.String("error", err.Error()))
	}
	t := time.NewTimer(msg.Typing)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("typing: %w", ctx.Err())
	case <-t.C:
	}
	if err := c.client.SendChatPresence(ctx, to, types.ChatPresencePaused, kind); err != nil {
		c.log.Debug("paused presence not sent", slog.String("error", err.Error()))
	}
	return nil
}

// markRead sends read receipts for msg.Read's messages of chat to.
func (c *conn) markRead(ctx context.Context, msg *wa.OutMessage, to types.JID) (*wa.SendResult, error) {
	if msg.Read == nil || len(msg.Read.MessageIDs) == 0 {
		return nil, &wa.SendError{Code: event.CodeInvalidJob, Err: errNoReadIDs}
	}
	sender := types.EmptyJID
	if msg.Read.Sender != "" {
		var err error
		if sender, err = types.ParseJID(msg.Read.Sender); err != nil {
			return nil, &wa.SendError{Code: event.CodeInvalidJob, Err: fmt.Errorf("read sender %q: %w", msg.Read.Sender, err)}
		}
	}
	now := time.Now()
	if err := c.client.MarkRead(ctx, msg.Read.MessageIDs, now, to, sender); err != nil {
		return nil, sendError(err, to)
	}
	return &wa.SendResult{Timestamp: now.UTC(), ToJID: to.String()}, nil
}

// refused reports a restricted send to the Handler as wa.Restricted before
// Send returns err.
func (c *conn) refused(err error) error {
	var se *wa.SendError
	if errors.As(err, &se) && se.Code == event.CodeRestricted {
		c.deliver(wa.Restricted{Reason: "whatsapp refused a message to a new contact (error 463)"})
	}
	return err
}

// deliveredTo is the JID whatsmeow sent a message for to to: the LID of a
// phone number whose LID it knows (it looks it up before sending, and
// sends to the LID), else to itself.
func (c *conn) deliveredTo(to types.JID) types.JID {
	if to.Server == types.DefaultUserServer {
		if lid := c.m.lookup(to); !lid.IsEmpty() {
			return lid
		}
	}
	return to
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

// sendError classifies an error of whatsmeow's SendMessage to to. An error
// ack from WhatsApp is classified by its code (see serverError).
func sendError(err error, to types.JID) error {
	wrapped := fmt.Errorf("send message: %w", err)
	if code, ok := serverErrorCode(err); ok {
		return serverError(code, to, wrapped)
	}
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

// serverErrorCode reads the code of an error ack, which whatsmeow's
// SendMessage returns as ErrServerReturnedError followed by the number.
func serverErrorCode(err error) (int, bool) {
	if !errors.Is(err, whatsmeow.ErrServerReturnedError) {
		return 0, false
	}
	msg := err.Error()
	prefix := whatsmeow.ErrServerReturnedError.Error() + " "
	i := strings.LastIndex(msg, prefix)
	if i < 0 {
		return 0, false
	}
	digits := msg[i+len(prefix):]
	if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
		digits = digits[:j]
	}
	code, err := strconv.Atoi(digits)
	return code, err == nil
}

// Error codes of WhatsApp's message acks that serverError tells apart.
const (
	ackNotFound    = 404 // no such account or group
	ackTimeout     = 408 // the server gave up waiting: try again
	ackRateLimited = 429 // too many messages for now: try again later
	ackRestricted  = 463 // the account may not contact new numbers for now
)

// serverError classifies WhatsApp's refusal of a message (an error ack)
// with code. 463 is restricted. A client error (4xx) is permanent: the
// server refuses this message as it is, so sending it again under the same
// id only adds to the account's ban risk (479 is one: the server refused
// the message stanza; the job fails with send_failed after one attempt).
// 404 says the recipient does not exist (not_on_whatsapp, invalid_recipient
// for a group). 408, 429 and server errors (5xx and anything else) are
// transient, and retried.
func serverError(code int, to types.JID, err error) error {
	switch {
	case code == ackRestricted:
		return &wa.SendError{Code: event.CodeRestricted, Err: err}
	case code == ackNotFound && to.Server == types.GroupServer:
		return &wa.SendError{Code: event.CodeInvalidRecipient, Err: err}
	case code == ackNotFound:
		return &wa.SendError{Code: event.CodeNotOnWhatsApp, Err: err}
	case code == ackTimeout, code == ackRateLimited, code < 400, code >= 500:
		return err
	}
	return &wa.SendError{Code: event.CodeSendFailed, Err: err}
}
