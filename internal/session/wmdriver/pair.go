package wmdriver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session/wa"
)

// QR event names of wa.QREvent.
const (
	qrCode    = "code"
	qrSuccess = "success"
	qrTimeout = "timeout"
	qrError   = "error"
)

// qrPairing is a running QR pairing: the goroutine that relays whatsmeow's
// QR channel, owned by the conn, which stops and waits for it.
type qrPairing struct {
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

// PairQR prepares QR pairing; call it before Connect. The channel yields
// each code, then one terminal event (success, timeout or error) and is
// closed. Cancelling ctx ends the pairing (whatsmeow then drops the socket);
// Disconnect ends it with an error event. It returns wa.ErrAlreadyPaired for
// a paired device and whatsmeow's error when the Conn is already connected.
func (c *conn) PairQR(ctx context.Context) (<-chan wa.QREvent, error) {
	if !c.dev.GetJID().IsEmpty() {
		return nil, wa.ErrAlreadyPaired
	}
	c.mu.Lock()
	c.stopPairing()
	c.mu.Unlock()
	// GetQRChannel registers an event handler, which waits for running
	// event handlers; c.mu must not be held, as those may need it.
	pctx, cancel := context.WithCancelCause(ctx)
	src, err := c.client.GetQRChannel(pctx)
	if errors.Is(err, whatsmeow.ErrQRStoreContainsID) {
		err = wa.ErrAlreadyPaired
	}
	if err != nil {
		cancel(err)
		return nil, fmt.Errorf("pair by qr: %w", err)
	}
	out := make(chan wa.QREvent, 8)
	p := &qrPairing{cancel: cancel}
	p.wg.Go(func() { relayQR(pctx, src, out, c.log) })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopPairing() // one started concurrently
	c.pairing = p
	return out, nil
}

// stopPairing ends the running QR pairing and waits for its relay.
// Callers hold c.mu.
func (c *conn) stopPairing() {
	if c.pairing == nil {
		return
	}
	c.pairing.cancel(errPairingStopped)
	c.pairing.wg.Wait()
	c.pairing = nil
}

// relayQR forwards whatsmeow's QR items as wa.QREvents until a terminal
// one, or until ctx ends (then with a final error event), and closes out.
func relayQR(ctx context.Context, src <-chan whatsmeow.QRChannelItem, out chan<- wa.QREvent, log *slog.Logger) {
	defer close(out)
	for {
		select {
		case item, open := <-src:
			if !open {
				trySend(out, wa.QREvent{Event: qrError, Err: cmp.Or(context.Cause(ctx), errPairingStopped)})
				return
			}
			ev, ok := qrEvent(item)
			if !ok {
				log.Warn("qr scanned by a phone without multi-device support")
				continue
			}
			if !send(ctx, out, ev) || ev.Event != qrCode {
				return
			}
		case <-ctx.Done():
			trySend(out, wa.QREvent{Event: qrError, Err: context.Cause(ctx)})
			return
		}
	}
}

// qrEvent translates a whatsmeow QR item; ok is false for an item that is
// not reported (a scan by a phone without multi-device, which may rescan).
func qrEvent(item whatsmeow.QRChannelItem) (ev wa.QREvent, ok bool) {
	switch item.Event {
	case whatsmeow.QRChannelEventCode:
		return wa.QREvent{Event: qrCode, Code: item.Code, Timeout: item.Timeout}, true
	case whatsmeow.QRChannelSuccess.Event:
		return wa.QREvent{Event: qrSuccess}, true
	case whatsmeow.QRChannelTimeout.Event:
		return wa.QREvent{Event: qrTimeout}, true
	case whatsmeow.QRChannelEventError:
		return wa.QREvent{Event: qrError, Err: item.Error}, true
	case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
		return wa.QREvent{}, false
	}
	return wa.QREvent{Event: qrError, Err: fmt.Errorf("qr pairing: %s", item.Event)}, true
}

func send(ctx context.Context, out chan<- wa.QREvent, ev wa.QREvent) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		trySend(out, wa.QREvent{Event: qrError, Err: context.Cause(ctx)})
		return false
	}
}

func trySend(out chan<- wa.QREvent, ev wa.QREvent) {
	select {
	case out <- ev:
	default:
	}
}

// PairPhone asks WhatsApp for a code that links the device to phone (E.164
// digits, "+" optional) when typed on that phone. The Conn must be connected
// and unpaired; PairPhone first waits (up to Config.PairReadyTimeout) until
// WhatsApp offers pairing on the socket. It returns wa.ErrInvalidPhone for a
// malformed number, wa.ErrAlreadyPaired for a paired device, an error
// wrapping wa.ErrNotConnected without a socket, and WhatsApp's error
// otherwise.
func (c *conn) PairPhone(ctx context.Context, phone string) (string, error) {
	digits, ok := phoneDigits(phone)
	if !ok {
		return "", fmt.Errorf("pair by phone: %w", wa.ErrInvalidPhone)
	}
	if !c.dev.GetJID().IsEmpty() {
		return "", wa.ErrAlreadyPaired
	}
	if !c.client.IsConnected() {
		return "", fmt.Errorf("pair by phone: %w", wa.ErrNotConnected)
	}
	if err := c.waitReady(ctx); err != nil {
		return "", fmt.Errorf("pair by phone: %w", err)
	}
	code, err := c.client.PairPhone(ctx, digits, true, pairClientType(c.cfg.PairDisplayName), c.cfg.PairDisplayName)
	if err != nil {
		return "", fmt.Errorf("pair by phone: %w", err)
	}
	return code, nil
}

// phoneDigits validates an E.164 number: 8-15 digits, no leading zero.
func phoneDigits(phone string) (string, bool) {
	digits := strings.TrimPrefix(phone, "+")
	ok := len(digits) >= 8 && len(digits) <= 15 && digits[0] != '0' && onlyChars(digits, "0123456789")
	return digits, ok
}

// waitReady waits until WhatsApp offered pairing on the current socket.
func (c *conn) waitReady(ctx context.Context) error {
	t := time.NewTimer(c.cfg.PairReadyTimeout)
	defer t.Stop()
	select {
	case <-c.readyChan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errPairNotReady
	}
}

// pairClientType is whatsmeow's client type for a "Browser (OS)" name.
func pairClientType(displayName string) whatsmeow.PairClientType {
	browser, _, _ := strings.Cut(displayName, " ")
	switch browser {
	case "Edge":
		return whatsmeow.PairClientEdge
	case "Firefox":
		return whatsmeow.PairClientFirefox
	case "Safari":
		return whatsmeow.PairClientSafari
	case "Opera":
		return whatsmeow.PairClientOpera
	}
	return whatsmeow.PairClientChrome
}

// prePair is whatsmeow's PrePairCallback: before it confirms a pairing to
// the phone and stores the device, the Handler decides (wa.PairPending)
// whether the pairing may complete.
func (c *conn) prePair(jid types.JID, platform, _ string) bool {
	return c.deliver(wa.PairPending{JID: jidString(jid), Platform: platform})
}
