package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/session/wa"
)

// conn is one tenant's whatsmeow client. It implements wa.Conn.
type conn struct {
	cfg       Config
	log       *slog.Logger
	client    *whatsmeow.Client
	dev       *store.Device
	container store.DeviceContainer
	h         wa.Handler
	m         mapper

	// Lock order: handleMu, then mu, then stateMu. Nothing waits for
	// handleMu while holding mu, and mu is never held while registering a
	// whatsmeow event handler (that waits for running handlers, which may
	// need mu).
	handleMu sync.Mutex // serialises calls to h

	mu         sync.Mutex // serialises Connect, Disconnect, Logout, PairQR and the login after pairing
	life       context.Context
	cancelLife context.CancelFunc
	pairing    *qrPairing
	history    historyQueue // history syncs (history.go)

	stateMu    sync.Mutex
	ready      chan struct{} // closed when WhatsApp offers pairing on the current socket
	readyFired bool
	jid        types.JID // the device's JID, kept apart from dev.ID, which whatsmeow clears on logout
}

var _ wa.Conn = (*conn)(nil)

// Connect dials WhatsApp and returns once the socket is up, or with the
// dial or handshake error, or ctx's error when ctx ended first. Connecting a
// connected Conn does nothing.
func (c *conn) Connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client.IsConnected() {
		return nil
	}
	c.endLife()
	c.resetReady()
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	err := c.dial(life)
	if !stop() && err == nil {
		c.client.Disconnect()
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		return fmt.Errorf("connect: %w", err)
	}
	c.life, c.cancelLife = life, cancel
	return nil
}

// endLife cancels the context of the last socket. Callers hold c.mu.
func (c *conn) endLife() {
	if c.cancelLife != nil {
		c.cancelLife()
		c.life, c.cancelLife = nil, nil
	}
}

// Disconnect closes the socket without logging out, and ends a QR pairing
// in progress. It is idempotent.
func (c *conn) Disconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.disconnectLocked()
}

func (c *conn) disconnectLocked() {
	c.stopPairing()
	c.client.Disconnect()
	c.history.stop()
	c.endLife()
}

// Logout unlinks the device from the WhatsApp account, disconnects and
// deletes the device's credentials from the store. When WhatsApp cannot be
// told it still deletes them, and returns the error (joined with the
// store's error if deleting failed too). An unpaired device has nothing to
// log out: Logout then only disconnects.
func (c *conn) Logout(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.client.Logout(ctx)
	c.disconnectLocked()
	if err == nil || errors.Is(err, whatsmeow.ErrNotLoggedIn) {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.StoreTimeout)
	defer cancel()
	if derr := c.dev.Delete(sctx); derr != nil && !errors.Is(derr, sqlstore.ErrDeviceIDMustBeSet) {
		return fmt.Errorf("log out: %w (delete credentials: %w)", err, derr)
	}
	return fmt.Errorf("log out: %w", err)
}

// IsConnected reports whether the socket is up and logged in.
func (c *conn) IsConnected() bool {
	return c.client.IsConnected() && c.client.IsLoggedIn()
}

// Registered looks up which phones (E.164 digits, "+" optional) have
// WhatsApp and maps each of them to its user JID. It returns an error
// wrapping wa.ErrNotConnected when the Conn is not logged in, and the
// lookup's error otherwise.
func (c *conn) Registered(ctx context.Context, phones []string) (map[string]string, error) {
	if !c.IsConnected() {
		return nil, fmt.Errorf("look up phones: %w", wa.ErrNotConnected)
	}
	queries := make([]string, 0, len(phones))
	byDigits := make(map[string]string, len(phones))
	for _, p := range phones {
		digits := strings.TrimPrefix(p, "+")
		byDigits[digits] = p
		queries = append(queries, "+"+digits)
	}
	resp, err := c.client.IsOnWhatsApp(ctx, queries)
	if err != nil {
		return nil, fmt.Errorf("look up phones: %w", err)
	}
	return registeredJIDs(resp, byDigits), nil
}

// registeredJIDs maps the phones of byDigits that WhatsApp knows to JIDs.
func registeredJIDs(resp []types.IsOnWhatsAppResponse, byDigits map[string]string) map[string]string {
	out := make(map[string]string, len(resp))
	for _, r := range resp {
		phone, ok := byDigits[strings.TrimPrefix(r.Query, "+")]
		if ok && r.IsIn && !r.JID.IsEmpty() {
			out[phone] = r.JID.ToNonAD().String()
		}
	}
	return out
}

// knownJID is the device's JID as last seen (at Open or PairSuccess).
func (c *conn) knownJID() types.JID {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.jid
}

func (c *conn) setJID(j types.JID) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	c.jid = j
}

// resetReady arms the pairing-ready signal for a new socket.
func (c *conn) resetReady() {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if c.readyFired {
		c.ready, c.readyFired = make(chan struct{}), false
	}
}

// markReady fires the pairing-ready signal of the current socket.
func (c *conn) markReady() {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if !c.readyFired {
		close(c.ready)
		c.readyFired = true
	}
}

func (c *conn) readyChan() <-chan struct{} {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.ready
}
