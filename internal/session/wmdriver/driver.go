package wmdriver

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"

	"github.com/wabus/wabus/internal/session/wa"
)

// Driver opens whatsmeow connections. It implements wa.Driver.
type Driver struct {
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	quotes map[string]*quotes // by tenant: authors of recent messages
}

var _ wa.Driver = (*Driver)(nil)

// New returns a Driver configured by cfg that logs to logger (nil discards).
// It never fails: every Config field has a usable zero value.
func New(cfg Config, logger *slog.Logger) *Driver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg.withDefaults(), logger: logger}
}

// Name returns "whatsmeow".
func (d *Driver) Name() string { return "whatsmeow" }

// Open returns an unconnected Conn for tenant's device dev, which must come
// from a store container (sqlstore's GetDevice or NewDevice). h receives the
// Conn's events. It returns ErrInvalidOpen for a nil device, a device
// without a container or a nil handler.
func (d *Driver) Open(tenant string, dev *store.Device, h wa.Handler) (wa.Conn, error) {
	if dev == nil || dev.Container == nil || h == nil {
		return nil, fmt.Errorf("open tenant %s: %w", tenant, ErrInvalidOpen)
	}
	log := d.logger.With(slog.String("tenant", tenant))
	client := whatsmeow.NewClient(dev, NewLogger(log, "whatsmeow"))
	configureClient(client, d.cfg)
	c := &conn{cfg: d.cfg, log: log, client: client, dev: dev, container: dev.Container, h: h, jid: dev.GetJID()}
	c.m = mapper{ownJID: dev.GetJID, download: client.Download, now: time.Now}
	c.ready = make(chan struct{})
	c.m.lids, c.m.quotes = deviceLIDs{dev}, d.quotesOf(tenant)
	client.AddEventHandlerWithSuccessStatus(c.onEvent)
	return c, nil
}

// quotesOf returns tenant's quotes, kept across its connections.
func (d *Driver) quotesOf(tenant string) *quotes {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.quotes == nil {
		d.quotes = map[string]*quotes{}
	}
	q, ok := d.quotes[tenant]
	if !ok {
		q = newQuotes()
		d.quotes[tenant] = q
	}
	return q
}

// configureClient sets the client up for wabus (see the package doc).
func configureClient(client *whatsmeow.Client, cfg Config) {
	client.SynchronousAck = true
	client.EnableDecryptedEventBuffer = true
	client.EnableAutoReconnect = false
	client.InitialAutoReconnect = false
	client.DisableLoginAutoReconnect = true
	client.UseRetryMessageStore = true
	if cfg.HTTPClient != nil {
		client.SetPreLoginHTTPClient(cfg.HTTPClient)
		client.SetWebsocketHTTPClient(cfg.HTTPClient)
		client.SetMediaHTTPClient(cfg.HTTPClient)
	}
}
