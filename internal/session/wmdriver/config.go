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
	// DeviceName is the name the phone lists the linked device under
	// (store.DeviceProps.Os of the registration; WA_DEVICE_NAME). It is
	// fixed when the device pairs. Defaults to "wabus".
	DeviceName string
	// HistoryDays, HistorySizeMB and HistoryQuotaMB bound the chat history
	// the phone uploads to the device after pairing: the days of history
	// (for the recent and the full sync), the size of a full sync in MB,
	// and the storage quota in MB the device reports, as mautrix-whatsapp
	// sets them. The driver keeps only what sends need from history (see
	// history.go), so little is better. Default to 30, 64 and 512.
	HistoryDays    uint32
	HistorySizeMB  uint32
	HistoryQuotaMB uint32
	// HistoryMaxBytes bounds a history sync blob the driver downloads (its
	// compressed size); larger ones are skipped. A blob goes to a
	// temporary file (os.TempDir), not to memory. Defaults to 512 MiB.
	HistoryMaxBytes int64
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
	defaultDeviceName       = "wabus"
	defaultHistoryDays      = 30
	defaultHistorySizeMB    = 64
	defaultHistoryQuotaMB   = 512
	defaultHistoryMaxBytes  = 512 << 20
)

func (c Config) withDefaults() Config {
	c.PairDisplayName = cmp.Or(c.PairDisplayName, defaultPairDisplayName)
	c.PairReadyTimeout = cmp.Or(max(c.PairReadyTimeout, 0), defaultPairReadyTimeout)
	c.StoreTimeout = cmp.Or(max(c.StoreTimeout, 0), defaultStoreTimeout)
	c.VersionRefresh = cmp.Or(max(c.VersionRefresh, 0), defaultVersionRefresh)
	c.DeviceName = cmp.Or(c.DeviceName, defaultDeviceName)
	c.HistoryDays = cmp.Or(c.HistoryDays, defaultHistoryDays)
	c.HistorySizeMB = cmp.Or(c.HistorySizeMB, defaultHistorySizeMB)
	c.HistoryQuotaMB = cmp.Or(c.HistoryQuotaMB, defaultHistoryQuotaMB)
	c.HistoryMaxBytes = cmp.Or(max(c.HistoryMaxBytes, 0), defaultHistoryMaxBytes)
	return c
}
