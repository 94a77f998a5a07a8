package wmdriver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"

	"github.com/wabus/wabus/internal/retry"
)

// versionMu guards whatsmeow's client version, a process-wide variable
// (store.SetWAVersion) that every login reads while it builds its client
// payload: logins hold it for reading, the refresher for writing.
var versionMu sync.RWMutex

const (
	// versionFetchTimeout bounds one fetch of WhatsApp Web's page.
	versionFetchTimeout = 30 * time.Second
	// versionKickGap is the least time between two fetches asked for by
	// refused logins (thousands of sessions may be refused at once).
	versionKickGap = time.Minute
	// versionRetryMin is the first wait after a failed fetch; failures in
	// a row double it up to the refresh interval.
	versionRetryMin = time.Minute
)

// versions keeps whatsmeow's client version at the one WhatsApp Web
// announces. WhatsApp refuses logins of versions it dropped (failure 405);
// whatsmeow is built with the version of its release, which ages.
type versions struct {
	client *http.Client
	every  time.Duration
	log    *slog.Logger
	kicks  chan struct{}
	fetch  func(context.Context, *http.Client) (*store.WAVersionContainer, error)
}

func newVersions(cfg Config, log *slog.Logger) *versions {
	return &versions{
		client: cfg.HTTPClient, every: cfg.VersionRefresh, log: log.With(slog.String("component", "whatsapp-version")),
		kicks: make(chan struct{}, 1), fetch: whatsmeow.GetLatestVersion,
	}
}

// kick asks for a fetch soon: a login was refused as outdated. It never
// blocks; kicks while one is pending are one kick.
func (v *versions) kick() {
	select {
	case v.kicks <- struct{}{}:
	default:
	}
}

// run fetches at once, then every v.every and after kicks, until ctx ends.
// A failed fetch keeps the last known version and is retried sooner.
func (v *versions) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	backoff := retry.Backoff{Min: versionRetryMin, Max: v.every}
	var kicked time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-v.kicks:
			if !kicked.IsZero() && time.Since(kicked) < versionKickGap {
				continue
			}
			kicked = time.Now()
		}
		next := v.every
		if err := v.refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			next = min(backoff.Next(), v.every)
			v.log.WarnContext(ctx, "whatsapp web version unknown; keeping the last one", slog.String("version", currentVersion()),
				slog.String("error", err.Error()), slog.Duration("retry_in", next))
		} else {
			backoff.Reset()
		}
		timer.Reset(next)
	}
}

// refresh fetches the version WhatsApp Web announces and makes it the
// one logins use, unless it is older than the current one (a stale page
// never downgrades the client). It returns the fetch's error, and then
// the version stays as it was.
func (v *versions) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, versionFetchTimeout)
	defer cancel()
	latest, err := v.fetch(ctx, v.client)
	if err != nil {
		return fmt.Errorf("fetch whatsapp web version: %w", err)
	}
	versionMu.Lock()
	old := store.GetWAVersion()
	newer := old.LessThan(*latest)
	if newer {
		store.SetWAVersion(*latest)
	}
	versionMu.Unlock()
	if newer {
		v.log.InfoContext(ctx, "whatsapp web version updated", slog.String("from", old.String()), slog.String("to", latest.String()))
	}
	return nil
}

// currentVersion is the client version logins use now.
func currentVersion() string {
	versionMu.RLock()
	defer versionMu.RUnlock()
	return store.GetWAVersion().String()
}

// dial connects the client's socket and logs in with the current client
// version (see versionMu).
func (c *conn) dial(ctx context.Context) error {
	versionMu.RLock()
	defer versionMu.RUnlock()
	return c.client.ConnectContext(ctx)
}
