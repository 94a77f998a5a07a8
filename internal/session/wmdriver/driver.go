package wmdriver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/session/wa"
)

// Driver opens whatsmeow connections. It implements wa.Driver.
type Driver struct {
	cfg      Config
	logger   *slog.Logger
	versions *versions
	props    []byte // registration device props (props.go)

	mu      sync.Mutex
	tenants map[string]*memory // by tenant
}

var _ wa.Driver = (*Driver)(nil)

// New returns a Driver configured by cfg that logs to logger (nil discards).
// It never fails: every Config field has a usable zero value.
func New(cfg Config, logger *slog.Logger) *Driver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	d := &Driver{cfg: cfg, logger: logger, versions: newVersions(cfg, logger)}
	props, err := deviceProps(d.cfg)
	if err != nil {
		logger.Error("device props: registering with whatsmeow's", slog.String("error", err.Error()))
	}
	d.props = props
	return d
}

// Run keeps the client version that logins announce at the one WhatsApp
// Web announces, until ctx ends: it fetches it at once, then every
// Config.VersionRefresh, and soon after WhatsApp refused a login as
// outdated (405), so that the session's next try can succeed. A failed
// fetch keeps the last known version (at first the one whatsmeow is built
// with) and is retried after a minute, doubling. Run returns nil once ctx
// ends. Without Run the version stays whatsmeow's own.
func (d *Driver) Run(ctx context.Context) error {
	d.versions.run(ctx)
	return nil
}

// Name returns "whatsmeow".
func (d *Driver) Name() string { return "whatsmeow" }

// Open returns an unconnected Conn for tenant's device, which must come
// from a Store (its Device or NewDevice). h receives the Conn's events. It
// returns ErrInvalidOpen for a nil device, a device of another store or
// without one, or a nil handler.
func (d *Driver) Open(tenant string, device wa.Device, h wa.Handler) (wa.Conn, error) {
	dev := storedDevice(device)
	if dev == nil || dev.Container == nil || h == nil {
		return nil, fmt.Errorf("open tenant %s: %w", tenant, ErrInvalidOpen)
	}
	log := d.logger.With(slog.String("tenant", tenant))
	client := whatsmeow.NewClient(dev, NewLogger(log, "whatsmeow"))
	configureClient(client, d.cfg)
	c := &conn{cfg: d.cfg, log: log, client: client, dev: dev, container: dev.Container, h: h, jid: dev.GetJID()}
	c.m = mapper{ownJID: c.knownJID, download: client.DownloadToFile, now: time.Now, retryMedia: c.retryMedia,
		decryptVote: client.DecryptPollVote}
	c.ready = make(chan struct{})
	mem := d.memoryOf(tenant)
	c.m.lids, c.m.quotes, c.m.polls = deviceLIDs{dev}, mem.quotes, mem.polls
	c.history.run = c.syncHistory
	if d.props != nil {
		client.GetClientPayload = clientPayload(dev, d.props)
	}
	client.PrePairCallback = c.prePair
	client.AddEventHandler(c.onHistory)
	client.AddEventHandlerWithSuccessStatus(c.onEvent)
	client.AddEventHandler(func(raw any) {
		if _, ok := raw.(*events.ClientOutdated); ok {
			d.versions.kick()
		}
	})
	return c, nil
}

// memory is what the driver remembers of a tenant across its
// connections: the authors of recent messages and the options of recent
// polls.
type memory struct {
	quotes *quotes
	polls  *polls
}

// memoryOf returns tenant's memory, made on first use.
func (d *Driver) memoryOf(tenant string) *memory {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tenants == nil {
		d.tenants = map[string]*memory{}
	}
	m, ok := d.tenants[tenant]
	if !ok {
		m = &memory{quotes: newQuotes(), polls: newPolls()}
		d.tenants[tenant] = m
	}
	return m
}

// configureClient sets the client up for wabus (see the package doc).
func configureClient(client *whatsmeow.Client, cfg Config) {
	client.SynchronousAck = true
	client.EnableDecryptedEventBuffer = true
	client.EnableAutoReconnect = false
	client.InitialAutoReconnect = false
	client.DisableLoginAutoReconnect = true
	client.AutomaticMessageRerequestFromPhone = true
	client.UseRetryMessageStore = true
	client.ManualHistorySyncDownload = true // history.go
	if cfg.HTTPClient != nil {
		client.SetPreLoginHTTPClient(cfg.HTTPClient)
		client.SetWebsocketHTTPClient(cfg.HTTPClient)
		client.SetMediaHTTPClient(cfg.HTTPClient)
	}
}
