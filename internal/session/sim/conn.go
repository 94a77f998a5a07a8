package sim

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/session/wa"
)

// conn is one simulated connection.
type conn struct {
	d      *Driver
	tenant string
	dev    wa.Device
	h      wa.Handler

	mu      sync.Mutex
	up      bool
	id      string // this connection's id in wabus_sim_conn
	pairing bool
	qrs     chan wa.QREvent
	stop    chan struct{} // closed when the connection ends
	paired  chan struct{} // closed when a scan completed pairing
	wake    chan struct{}
	receipt []pendingReceipt // sent, awaiting receipts
	wg      sync.WaitGroup
}

func (c *conn) isUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

func (c *conn) isPairing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && c.pairing
}

// IsConnected implements wa.Conn.
func (c *conn) IsConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && !c.pairing
}

// PairQR implements wa.Conn.
func (c *conn) PairQR(ctx context.Context) (<-chan wa.QREvent, error) {
	if c.dev.JID() != "" {
		return nil, wa.ErrAlreadyPaired
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pairing = true
	c.paired = make(chan struct{})
	c.qrs = make(chan wa.QREvent, len(c.d.cfg.QRTimeouts)+2)
	return c.qrs, nil
}

// The older connection is read under a row lock before it is replaced, in
// one transaction: a concurrent Connect of the same tenant waits and then
// sees (and kicks) this one. (A locking read inside the upsert's own WITH
// cannot see the row the upsert just changed.)
const (
	lockConn     = `SELECT worker, conn_id FROM wabus_sim_conn WHERE tenant = $1 FOR UPDATE`
	registerConn = `INSERT INTO wabus_sim_conn (tenant, worker, conn_id) VALUES ($1, $2, $3)
ON CONFLICT (tenant) DO UPDATE SET worker = excluded.worker, conn_id = excluded.conn_id, connected_at = now()`
)

// Connect implements wa.Conn: the server registers the connection,
// replacing (and kicking) any older one of the same tenant.
func (c *conn) Connect(ctx context.Context) error {
	if c.dev.JID() == "" && !c.isPairingSetup() {
		return errors.New("sim: unpaired device needs PairQR before Connect")
	}
	id := randomHex(8)
	var oldWorker, oldConn string
	err := pgx.BeginFunc(ctx, c.d.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, lockConn, c.tenant).Scan(&oldWorker, &oldConn)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, registerConn, c.tenant, c.d.cfg.WorkerID, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sim: connect: %w", err)
	}
	if oldConn != "" {
		c.d.kickOld(c.tenant, oldWorker, oldConn)
	}
	c.mu.Lock()
	c.up, c.id = true, id
	c.stop, c.wake = make(chan struct{}), make(chan struct{}, 1)
	pairing := c.pairing
	c.mu.Unlock()
	c.d.register(c)
	if err := c.d.publish(c.tenant, "connected", map[string]string{"worker": c.d.cfg.WorkerID, "conn_id": id}); err != nil {
		c.d.log.Warn("publish sim connected", slog.String("error", err.Error()))
	}
	if pairing {
		c.wg.Go(c.showCodes)
		return nil
	}
	c.loggedIn()
	return nil
}

func (c *conn) isPairingSetup() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pairing
}

// loggedIn starts the delivery of pending inbound messages and reports
// Connected.
func (c *conn) loggedIn() {
	c.wg.Go(func() { c.h.Handle(wa.Connected{JID: c.dev.JID()}) })
	c.wg.Go(c.deliver)
	c.wg.Go(c.receipts)
}

// Disconnect implements wa.Conn.
func (c *conn) Disconnect() { c.end("") }

// end closes the connection and waits for its goroutines; reason "" is a
// clean close by the client.
func (c *conn) end(reason string) bool {
	if !c.close(reason) {
		return false
	}
	c.wg.Wait()
	return true
}

// close closes the connection without waiting for its goroutines (for use
// from one of them).
func (c *conn) close(reason string) bool {
	c.mu.Lock()
	if !c.up {
		c.mu.Unlock()
		return false
	}
	c.up = false
	close(c.stop)
	id := c.id
	qrs := c.qrs
	c.qrs = nil
	c.mu.Unlock()
	if qrs != nil {
		close(qrs)
	}
	c.d.unregister(c)
	c.d.closeConn(c.tenant, id, reason)
	return true
}

// drop ends the connection from the server side and tells the client.
func (c *conn) drop(ev wa.Event) {
	if c.end("dropped") {
		c.h.Handle(ev)
	}
}

// removed: WhatsApp removed the device (401). Like whatsmeow, the client
// deletes its credentials before reporting LoggedOut.
func (c *conn) removed(ctx context.Context) {
	if !c.end("logged out") {
		return
	}
	if err := c.dev.Delete(ctx); err != nil {
		c.d.log.Warn("delete sim device", slog.String("error", err.Error()))
	}
	c.h.Handle(wa.LoggedOut{Reason: "401: device removed"})
}

// Logout implements wa.Conn.
func (c *conn) Logout(ctx context.Context) error {
	c.end("logged out")
	if err := c.dev.Delete(ctx); err != nil {
		return fmt.Errorf("sim: delete device: %w", err)
	}
	return nil
}

// PairPhone implements wa.Conn: the code is shown; a scan completes it.
func (c *conn) PairPhone(ctx context.Context, phone string) (string, error) {
	if c.dev.JID() != "" {
		return "", wa.ErrAlreadyPaired
	}
	if !c.isPairing() {
		return "", wa.ErrNotConnected
	}
	if _, ok := digits(phone); !ok {
		return "", wa.ErrInvalidPhone
	}
	const alphabet = "ABCDEFGHJKLMNPQRSTVWXYZ123456789"
	b := make([]byte, 8)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:4]) + "-" + string(b[4:]), nil
}

// showCodes emits a QR code per timeout, then times out, unless the phone
// scanned one meanwhile.
func (c *conn) showCodes() {
	for _, d := range c.d.cfg.QRTimeouts {
		c.emitQR(wa.QREvent{Event: "code", Code: qrCode(), Timeout: d})
		t := time.NewTimer(d)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-c.paired:
			t.Stop()
			return
		case <-t.C:
		}
	}
	if c.isPairing() {
		c.emitQR(wa.QREvent{Event: "timeout"})
		c.close("pairing timed out")
	}
}

func (c *conn) emitQR(q wa.QREvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.qrs != nil {
		select {
		case c.qrs <- q:
		default:
		}
	}
}

// completePairing is the phone scanning the code: the device gets an
// identity and is stored, like whatsmeow stores it after pair-success.
func (c *conn) completePairing(ctx context.Context) error {
	jid, err := StoreDevice(ctx, c.dev, c.tenant)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.pairing = false
	close(c.paired)
	c.mu.Unlock()
	c.emitQR(wa.QREvent{Event: "success"})
	c.h.Handle(wa.PairSuccess{JID: jid, Platform: "sim"})
	c.loggedIn()
	return nil
}

// StoreDevice gives dev (fresh from the device store's NewDevice) the
// simulated account of tenant and stores it, as pairing does. It returns
// the device JID, or an error when the device cannot be stored.
func StoreDevice(ctx context.Context, dev wa.Device, tenant string) (string, error) {
	jid := deviceJID(tenant)
	if err := dev.Enrol(ctx, jid, "sim", "wabus sim"); err != nil {
		return "", fmt.Errorf("sim: store device: %w", err)
	}
	return jid, nil
}

// deviceJID is the simulated account of a tenant: a stable phone number
// and a fresh device number per pairing.
func deviceJID(tenant string) string {
	dev := randomBytes(1)[0]%90 + 1
	return fmt.Sprintf("51%s:%d@s.whatsapp.net", hashDigits(tenant, 10), dev)
}

func qrCode() string {
	return "2@" + base64.StdEncoding.EncodeToString(randomBytes(66)) + "," +
		base64.StdEncoding.EncodeToString(randomBytes(32)) + "," +
		base64.StdEncoding.EncodeToString(randomBytes(32)) + "," +
		base64.StdEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }
