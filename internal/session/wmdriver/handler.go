package wmdriver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/session/wa"
)

// onEvent is the conn's whatsmeow event handler. Its answer decides whether
// whatsmeow acknowledges a message or receipt: it is the wa.Handler's answer
// for reported ones, true for ignored ones, and false when handling panicked.
func (c *conn) onEvent(raw any) (ok bool) {
	defer c.recoverPanic(raw, &ok)
	switch e := raw.(type) {
	case *events.QR:
		c.markReady()
		return true
	case *events.ManualLoginReconnect:
		c.relogin()
		return true
	case *events.PairSuccess:
		c.setJID(e.ID)
	case *events.LoggedOut:
		c.forgetDevice()
	case *events.UndecryptableMessage:
		c.undecryptable(e)
		return true
	}
	ev, mapped := c.m.event(raw)
	if !mapped {
		return true
	}
	return c.deliver(ev)
}

// deliver hands ev to the Handler, one event at a time.
func (c *conn) deliver(ev wa.Event) bool {
	c.handleMu.Lock()
	defer c.handleMu.Unlock()
	return c.h.Handle(ev)
}

// recoverPanic turns a panic in onEvent into a false answer (so WhatsApp
// delivers the event again), logs it with its stack and reports it.
func (c *conn) recoverPanic(raw any, ok *bool) {
	r := recover()
	if r == nil {
		return
	}
	*ok = false
	c.log.Error("panic while handling whatsapp event", slog.String("event", fmt.Sprintf("%T", raw)),
		slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
	if c.cfg.OnPanic != nil {
		c.cfg.OnPanic(r)
	}
}

// relogin logs in again on a new socket after WhatsApp's stream error 515
// (sent right after pairing), and reports Disconnected when that fails.
func (c *conn) relogin() {
	c.mu.Lock()
	err := c.reloginLocked()
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("log in after pairing failed", slog.String("error", err.Error()))
		c.deliver(wa.Disconnected{Reason: "log in after pairing: " + err.Error()})
	}
}

// reloginLocked reconnects on the current socket's context; nothing is done
// when the Conn was disconnected meanwhile. Callers hold c.mu.
func (c *conn) reloginLocked() error {
	if c.life == nil || c.life.Err() != nil {
		return nil
	}
	c.client.Disconnect()
	c.resetReady()
	if err := c.dial(c.life); err != nil {
		c.endLife()
		return fmt.Errorf("reconnect: %w", err)
	}
	return nil
}

// forgetDevice deletes the device's credentials after WhatsApp logged it
// out, before LoggedOut is delivered. whatsmeow deletes them as well, but
// concurrently with the event; deleting by the remembered JID makes the
// seam's promise hold and does not touch the shared *store.Device.
func (c *conn) forgetDevice() {
	jid := c.knownJID()
	if jid.IsEmpty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StoreTimeout)
	defer cancel()
	if err := c.container.DeleteDevice(ctx, &store.Device{ID: &jid}); err != nil {
		c.log.Error("delete credentials of logged-out device", slog.String("error", err.Error()))
	}
}

// undecryptable logs a message whatsmeow could not decrypt, or that reached
// this device as unavailable. whatsmeow has already asked for it again: the
// sender with a retry receipt, and the phone with a placeholder resend
// request (AutomaticMessageRerequestFromPhone). The copy that comes back is
// an ordinary message; this event has no content and is not reported.
func (c *conn) undecryptable(e *events.UndecryptableMessage) {
	c.log.Debug("message not decrypted; asked for again", slog.String("message_id", e.Info.ID),
		slog.Bool("group", e.Info.IsGroup), slog.Bool("unavailable", e.IsUnavailable),
		slog.String("unavailable_type", string(e.UnavailableType)), slog.String("decrypt_fail", string(e.DecryptFailMode)))
}
