package wmdriver

import (
	"cmp"
	"net/http"
	"time"
)

// Config configures a Driver. The zero value is ready to use.
type Config struct {
	// HTTPClient, when set, carries everything the client sends over HTTP:
	// the pre-login and logged-in websockets and media uploads and downloads.
	// whatsmeow dials fixed hosts (wss://web.whatsapp.com/ws/chat, and the
	// media hosts the server names), so a local protocol emulator is reached
	// through the Transport's dialer and TLS config, not through URLs. Its
	// Timeout bounds each websocket dial and each whole media transfer.
	// Defaults to whatsmeow's own clients (clones of http.DefaultTransport).
	HTTPClient *http.Client
	// OnPanic, when set, is called with the value recovered from a panic
	// while handling an event, after the panic has been logged with its
	// stack (for example to count it in a metric). Defaults to nil.
	OnPanic func(recovered any)
	// PairDisplayName is the companion shown on the phone while pairing by
	// phone number. WhatsApp accepts only "Browser (OS)" with a common
	// browser and OS. Defaults to "Chrome (Linux)".
	PairDisplayName string
	// PairReadyTimeout bounds how long PairPhone waits for a fresh socket to
	// be ready for pairing (WhatsApp's first pairing refs). Defaults to 15s.
	PairReadyTimeout time.Duration
	// StoreTimeout bounds device-store writes that the driver does on its
	// own, such as deleting credentials after WhatsApp logged the device
	// out. Defaults to 10s.
	StoreTimeout time.Duration
	// VersionRefresh is how often Run fetches the WhatsApp Web client
	// version (from https://web.whatsapp.com/, through HTTPClient) that
	// logins announce. Run also fetches at start and soon after a login was
	// refused as outdated. Defaults to 24h.
	VersionRefresh time.Duration
}

const (
	defaultPairDisplayName  = "Chrome (Linux)"
	defaultPairReadyTimeout = 15 * time.Second
	defaultStoreTimeout     = 10 * time.Second
	defaultVersionRefresh   = 24 * time.Hour
)

func (c Config) withDefaults() Config {
	c.PairDisplayName = cmp.Or(c.PairDisplayName, defaultPairDisplayName)
	c.PairReadyTimeout = cmp.Or(max(c.PairReadyTimeout, 0), defaultPairReadyTimeout)
	c.StoreTimeout = cmp.Or(max(c.StoreTimeout, 0), defaultStoreTimeout)
	c.VersionRefresh = cmp.Or(max(c.VersionRefresh, 0), defaultVersionRefresh)
	return c
}
