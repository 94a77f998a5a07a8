package admin

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/session/wa"
)

// Config configures the admin server.
type Config struct {
	// Addr is the address Run listens on (WA_ADMIN_ADDR). Defaults to ":8080".
	Addr string
	// Token is the bearer token every route but /healthz, /readyz and
	// /metrics requires (WA_ADMIN_TOKEN). Required: New fails without it.
	Token string `json:"-"`
	// MaxBody is the largest request body in bytes (WA_ADMIN_MAX_BODY);
	// a larger one is answered 413 too_large. Defaults to 32 MiB.
	MaxBody int64
	// SyncWait is how long the old API's send routes wait for the job's
	// sent or failed event before they answer 202 queued. Defaults to 30s.
	SyncWait time.Duration
	// CtlWait is how long a control request to the owning worker may take
	// before admin answers 503 timeout. Defaults to 5s.
	CtlWait time.Duration
	// QRWait is how long the first pairing code may take to arrive (the
	// contract promises the first QR code within 10s). Defaults to 10s.
	QRWait time.Duration
	// PairPhoneWait is how long a pair-phone request may take. The worker
	// takes up to 20s to answer one (it may wait for its pairing socket to
	// be ready before WhatsApp hands out the code); admin waits longer, so
	// that one request gets one code. Defaults to 25s.
	PairPhoneWait time.Duration
	// PairWait caps a pairing stream: when neither paired nor timeout came
	// from the worker by then, admin sends timeout itself and ends the
	// stream. Defaults to 3m (WhatsApp shows codes for about 160s).
	PairWait time.Duration
	// Heartbeat is the interval of the comment lines that keep an idle
	// pairing stream open through proxies. Defaults to 15s.
	Heartbeat time.Duration
	// PayloadMargin is what is kept free of the NATS max payload for
	// headers: a job larger than the max payload minus this has its inline
	// media moved to the media bucket. Defaults to 16 KiB.
	PayloadMargin int64
	// QRScale is the pixels per module of the QR code PNGs. Defaults to 6.
	QRScale int
}

// Defaults of Config.
const (
	DefaultAddr          = ":8080"
	DefaultMaxBody       = 32 << 20
	DefaultSyncWait      = 30 * time.Second
	DefaultCtlWait       = 5 * time.Second
	DefaultQRWait        = 10 * time.Second
	DefaultPairPhoneWait = 25 * time.Second
	DefaultPairWait      = 3 * time.Minute
	DefaultHeartbeat     = 15 * time.Second
	DefaultPayloadMargin = 16 << 10
	DefaultQRScale       = 6
)

func (c Config) withDefaults() Config {
	c.Addr = cmp.Or(c.Addr, DefaultAddr)
	c.MaxBody = cmp.Or(max(c.MaxBody, 0), DefaultMaxBody)
	c.SyncWait = cmp.Or(max(c.SyncWait, 0), DefaultSyncWait)
	c.CtlWait = cmp.Or(max(c.CtlWait, 0), DefaultCtlWait)
	c.QRWait = cmp.Or(max(c.QRWait, 0), DefaultQRWait)
	c.PairPhoneWait = cmp.Or(max(c.PairPhoneWait, 0), DefaultPairPhoneWait)
	c.PairWait = cmp.Or(max(c.PairWait, 0), DefaultPairWait)
	c.Heartbeat = cmp.Or(max(c.Heartbeat, 0), DefaultHeartbeat)
	c.PayloadMargin = cmp.Or(max(c.PayloadMargin, 0), DefaultPayloadMargin)
	c.QRScale = cmp.Or(max(c.QRScale, 0), DefaultQRScale)
	return c
}

func (c Config) validate() error {
	if c.Token == "" {
		return ErrNoToken
	}
	if c.QRScale > 32 {
		return fmt.Errorf("admin: QRScale %d is above 32", c.QRScale)
	}
	return nil
}

// Deps are the server's collaborators. Pool, NATS, JS and Names are
// required.
type Deps struct {
	Pool  *pgxpool.Pool
	NATS  *nats.Conn
	JS    jetstream.JetStream
	Names bus.Names
	// Devices deletes a deleted tenant's device from the WhatsApp
	// driver's device store, in the transaction that deletes the tenant.
	// Required.
	Devices wa.DeviceDeleter
	// Logger receives the access log. Defaults to a logger that discards.
	Logger *slog.Logger
	// Registry receives the request metrics. Defaults to a new registry.
	Registry prometheus.Registerer
	// Gatherer is what /metrics serves. Defaults to Registry when it is
	// also a Gatherer (a *prometheus.Registry is both).
	Gatherer prometheus.Gatherer
}

func (d Deps) withDefaults() Deps {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	if d.Gatherer == nil {
		if g, ok := d.Registry.(prometheus.Gatherer); ok {
			d.Gatherer = g
		} else {
			d.Gatherer = prometheus.NewRegistry()
		}
	}
	return d
}

func (d Deps) validate() error {
	if d.Pool == nil || d.NATS == nil || d.JS == nil || d.Devices == nil || d.Names.Prefix() == "" {
		return ErrMissingDeps
	}
	return nil
}
