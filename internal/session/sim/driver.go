package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/session/wa"
)

// Config configures the simulator.
type Config struct {
	// WorkerID is reported in connected/disconnected events. Required.
	WorkerID string
	// Names gives the subjects. Required.
	Names bus.Names
	// QRTimeouts are how long each QR code is shown; pairing times out after
	// the last. Defaults to WhatsApp's: 60s, then five of 20s.
	QRTimeouts []time.Duration
	// ReceiptDelay is how long receipts are batched before they are sent.
	// Defaults to 1s.
	ReceiptDelay time.Duration
	// RetryDelay is how long an unacknowledged inbound message waits before
	// it is delivered again. Defaults to 500ms.
	RetryDelay time.Duration
}

func (c Config) withDefaults() Config {
	if len(c.QRTimeouts) == 0 {
		c.QRTimeouts = []time.Duration{60 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second, 20 * time.Second}
	}
	if c.ReceiptDelay <= 0 {
		c.ReceiptDelay = time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 500 * time.Millisecond
	}
	return c
}

// Driver is the simulator. Build it with New; Close it when done.
type Driver struct {
	cfg  Config
	pool *pgxpool.Pool
	nc   *nats.Conn
	log  *slog.Logger
	subs []*nats.Subscription // kick, wake

	mu      sync.Mutex
	conns   map[string]*conn      // tenant → live conn on this worker
	fails   map[string]int        // tenant → sends still to fail (fail-sends)
	pending map[string][]*inbound // tenant → accepted, not yet persisted
}

// New returns a simulator. It returns an error when cfg is incomplete or
// its subscriptions fail: kick (how a replaced connection learns of it) and
// wake (how the live connection learns of an inbound message that another
// worker accepted).
func New(cfg Config, pool *pgxpool.Pool, nc *nats.Conn, logger *slog.Logger) (*Driver, error) {
	if cfg.WorkerID == "" || cfg.Names.Prefix() == "" {
		return nil, errors.New("sim: worker id and names are required")
	}
	d := &Driver{
		cfg: cfg.withDefaults(), pool: pool, nc: nc,
		log:     logger.With(slog.String("component", "sim")),
		conns:   map[string]*conn{},
		fails:   map[string]int{},
		pending: map[string][]*inbound{},
	}
	for _, s := range []struct {
		op string
		fn nats.MsgHandler
	}{{"kick", d.onKick}, {"wake", d.onWake}} {
		sub, err := nc.Subscribe(cfg.Names.Sim("*", s.op), s.fn)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("subscribe sim %s: %w", s.op, err)
		}
		d.subs = append(d.subs, sub)
	}
	return d, nil
}

// Close stops listening for kicks and wakes.
func (d *Driver) Close() error {
	var first error
	for _, s := range d.subs {
		if err := s.Unsubscribe(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Name implements wa.Driver.
func (d *Driver) Name() string { return "sim" }

// Open implements wa.Driver.
func (d *Driver) Open(tenant string, dev wa.Device, h wa.Handler) (wa.Conn, error) {
	return &conn{d: d, tenant: tenant, dev: dev, h: h}, nil
}

// ControlOps implements wa.Controller.
func (d *Driver) ControlOps() []string {
	return []string{"scan", "inbound", "disconnect", "logout", "fail-sends", "restrict"}
}

// Control implements wa.Controller.
func (d *Driver) Control(ctx context.Context, tenant, op string, body []byte) []byte {
	var err error
	switch op {
	case "scan":
		err = d.scan(ctx, tenant)
	case "inbound":
		err = d.inbound(ctx, tenant, body)
	case "disconnect":
		err = d.withConn(tenant, func(c *conn) { c.drop(wa.Disconnected{Reason: "network dropped (sim)"}) })
	case "logout":
		err = d.withConn(tenant, func(c *conn) { c.removed(ctx) })
	case "fail-sends":
		err = d.setFailSends(tenant, body)
	case "restrict":
		err = d.restrict(ctx, tenant, body)
	default:
		err = &ctlError{"invalid_request", "unknown operation " + op}
	}
	return reply(err)
}

// ctlError is a control error with its code.
type ctlError struct{ code, msg string }

func (e *ctlError) Error() string { return e.msg }

func reply(err error) []byte {
	if err == nil {
		return []byte("{}")
	}
	var ce *ctlError
	if !errors.As(err, &ce) {
		ce = &ctlError{"unavailable", err.Error()}
	}
	b, _ := json.Marshal(map[string]string{"error": ce.msg, "code": ce.code})
	return b
}

func (d *Driver) conn(tenant string) *conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[tenant]
}

func (d *Driver) withConn(tenant string, fn func(*conn)) error {
	c := d.conn(tenant)
	if c == nil || !c.isUp() {
		return &ctlError{"not_connected", "tenant has no connection"}
	}
	fn(c)
	return nil
}

func (d *Driver) scan(ctx context.Context, tenant string) error {
	c := d.conn(tenant)
	if c == nil || !c.isPairing() {
		return &ctlError{"not_pairing", "no QR code is being shown for this tenant"}
	}
	return c.completePairing(ctx)
}

// publish sends a simulator notice (connected, disconnected, delivered).
func (d *Driver) publish(tenant, op string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.nc.Publish(d.cfg.Names.Sim(tenant, op), b)
}
