// Package wa is the seam between wabus's session manager and a WhatsApp
// network: the real one through whatsmeow, or the simulator. Everything above
// this seam (leases, state, outbox, sends) is one code path for both drivers.
//
// A Driver opens a Conn for one tenant's device. The Conn reports what
// happens on it as Events to a Handler; for Message and Receipt events the
// Handler's answer says whether the event is durable, and the driver
// acknowledges it to WhatsApp only then (a false answer means WhatsApp will
// deliver it again).
package wa

import (
	"context"
	"os"
	"time"

	"github.com/wabus/wabus/internal/event"
)

// Driver opens connections to a WhatsApp network.
type Driver interface {
	// Name is "whatsmeow" or "sim".
	Name() string
	// Open returns an unconnected Conn for tenant's device. dev is a stored
	// device (paired) or a fresh one from the DeviceStore's NewDevice (to
	// be paired with PairQR or PairPhone). h receives the Conn's events;
	// Open itself emits none. It returns an error when the driver cannot
	// serve the device.
	Open(tenant string, dev Device, h Handler) (Conn, error)
}

// Handler receives a Conn's events, one at a time per Conn.
type Handler interface {
	// Handle processes ev. For Message and Receipt, true means the event is
	// stored durably and may be acknowledged to WhatsApp; false means it was
	// not, and WhatsApp must deliver it again. Other events ignore the answer.
	Handle(ev Event) bool
}

// Conn is one tenant's connection. Its methods are safe for concurrent use.
type Conn interface {
	// PairQR prepares QR pairing of an unpaired device; call it before
	// Connect. The channel yields each code, then one terminal QREvent
	// (success, timeout or error) and is closed. It returns ErrAlreadyPaired
	// for a paired device.
	PairQR(ctx context.Context) (<-chan QREvent, error)
	// Connect dials WhatsApp and returns once the socket is up (or failed).
	// Login success arrives later as Connected; failures as Disconnected,
	// ConnectFailure, LoggedOut or TemporaryBan. The Conn does not reconnect
	// by itself: the session manager decides when to call Connect again.
	Connect(ctx context.Context) error
	// PairPhone asks for a phone pairing code for phone (E.164 digits) on a
	// connected, unpaired Conn. It returns ErrAlreadyPaired for a paired
	// device and ErrInvalidPhone for a malformed number.
	PairPhone(ctx context.Context, phone string) (string, error)
	// Disconnect closes the socket without logging out. It is idempotent.
	Disconnect()
	// Logout removes the device from the WhatsApp account and deletes its
	// credentials from the store. It returns an error when WhatsApp could not
	// be told; the credentials are deleted either way.
	Logout(ctx context.Context) error
	// IsConnected reports whether the socket is up and logged in.
	IsConnected() bool
	// Send delivers msg. It returns a *SendError (with a failure code) for
	// errors that retrying cannot fix, and other errors for transient ones.
	Send(ctx context.Context, msg *OutMessage) (*SendResult, error)
	// Registered looks up which phone numbers (E.164 digits) have WhatsApp
	// and returns their user JIDs; a number missing from the map has none.
	Registered(ctx context.Context, phones []string) (map[string]string, error)
}

// QREvent is one step of QR pairing.
type QREvent struct {
	// Event is "code" (show Code for Timeout), "success", "timeout" or "error".
	Event   string
	Code    string
	Timeout time.Duration
	Err     error
}

// Event is something that happened on a Conn: one of the types below.
type Event interface{ waEvent() }

// Connected: the device is logged in and can send and receive.
type Connected struct{ JID string }

// PairSuccess: pairing finished; the device is stored under JID.
type PairSuccess struct {
	JID      string
	Platform string
}

// PairPending: the phone accepted a pairing as JID, and the driver is about
// to confirm it and store the device. The Handler's answer decides: false
// refuses the pairing (the phone shows it failed; nothing is stored, and
// PairSuccess does not follow). Drivers that cannot refuse a pairing do not
// emit it.
type PairPending struct {
	JID      string
	Platform string
}

// Disconnected: the socket dropped; reconnecting is up to the manager.
type Disconnected struct{ Reason string }

// LoggedOut: WhatsApp removed the device (401, device_removed); the driver
// has already deleted its credentials.
type LoggedOut struct{ Reason string }

// StreamReplaced: another connection of the same device took over.
type StreamReplaced struct{}

// TemporaryBan: WhatsApp banned the account until Expires.
type TemporaryBan struct {
	Reason  string
	Expires time.Time
}

// ConnectFailure: the server refused the login for Reason (not a logout).
type ConnectFailure struct {
	Reason string
	Code   int
}

// KeepAliveTimeout: keepalive pings are failing; the socket may be dead.
// Count is how many failed in a row, LastSuccess when one was last
// answered (or when the socket came up); zero when the driver cannot tell.
type KeepAliveTimeout struct {
	Count       int
	LastSuccess time.Time
}

// Message: an inbound message. Media, when set, is downloaded with Download.
type Message struct {
	Data  event.Message
	Media *InboundMedia
}

// InboundMedia is an attachment still on WhatsApp's servers. A driver sets
// DownloadTo or Download; the session manager uses DownloadTo when set.
// Both return a *MediaError when fetching again cannot help (the
// attachment expired, is corrupt or too large); other errors are transient.
type InboundMedia struct {
	Mimetype string
	Filename string
	// Size is the size the message declares.
	Size int64
	// Download fetches and decrypts the attachment into memory (for small
	// attachments, as the simulator's).
	Download func(ctx context.Context) ([]byte, error)
	// DownloadTo fetches and decrypts the attachment into f, an empty file,
	// without holding it in memory, and fails with a *MediaError (code
	// too_large) rather than store more than limit bytes of it (f may
	// briefly hold a few bytes more: the encrypted file's padding and MAC).
	DownloadTo func(ctx context.Context, f *os.File, limit int64) error
}

// Receipt: delivery, read or played receipts for messages we sent.
type Receipt struct{ Data event.Receipt }

// Restricted: WhatsApp refused a message because the account may not
// contact new numbers for now (its error 463). The driver reports it from
// Send, before Send returns its *SendError with code restricted; the
// connection stays up.
type Restricted struct{ Reason string }

func (Connected) waEvent()        {}
func (PairSuccess) waEvent()      {}
func (PairPending) waEvent()      {}
func (Disconnected) waEvent()     {}
func (LoggedOut) waEvent()        {}
func (StreamReplaced) waEvent()   {}
func (TemporaryBan) waEvent()     {}
func (ConnectFailure) waEvent()   {}
func (KeepAliveTimeout) waEvent() {}
func (Message) waEvent()          {}
func (Receipt) waEvent()          {}
func (Restricted) waEvent()       {}

// OutMessage is one message to send.
type OutMessage struct {
	// ID is the WhatsApp message id to send under (deterministic per job).
	ID string
	// JobID is the send job's id (the simulator reports it).
	JobID string
	// To is the recipient JID (user@s.whatsapp.net or group@g.us).
	To string
	// Kind is a content kind of vocab (vocab.ContentText, …).
	Kind string
	// Text is the text, or the caption of media.
	Text string
	// Media holds the bytes for media kinds.
	Media    []byte
	Mimetype string
	Filename string
	// PTT marks audio as a voice note.
	PTT bool
	// ReplyTo quotes an earlier message by its WhatsApp id.
	ReplyTo string
	// Typing is how long to show "typing…" ("recording…" before a voice
	// note) in the chat before sending.
	Typing time.Duration

	// What a phone shows beside an attachment (internal/media's Info),
	// zero when unknown: an image's, sticker's or video's size, the
	// seconds of audio and video, a voice note's waveform (64 points of
	// 0-100), and a JPEG thumbnail of an image or video.
	Width, Height int
	Seconds       int
	Waveform      []byte
	Thumbnail     []byte

	// The content object of the kind, for the v2 kinds. The pipeline fills
	// them in for the driver: a Reaction's Sender is "" when the target is
	// the tenant's own message, else the target's author (the contact in
	// a one-to-one chat); a Read's Sender is a JID; a Contact always has
	// its VCard.
	event.Contents
}

// SendResult is what WhatsApp answered to a send. ToJID is the JID the
// message was delivered to: the recipient's LID when WhatsApp addresses it
// by LID, else the phone or group JID it was sent to.
type SendResult struct {
	ID        string
	Timestamp time.Time
	ToJID     string
}

// SendError is a send failure that retrying cannot fix.
type SendError struct {
	Code string // a failure code of CONTRACT, e.g. media_invalid
	Err  error
}

func (e *SendError) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Controller is implemented by a driver that has a control surface of its
// own (the simulator's wa.sim.<tenant>.<op> subjects). The session manager
// routes each such request to the worker that owns the tenant, or to any
// worker when nobody does, and calls Control there.
type Controller interface {
	// ControlOps lists the operations the driver answers.
	ControlOps() []string
	// Control performs op for tenant and returns the JSON reply: {} or
	// {"error", "code"}.
	Control(ctx context.Context, tenant, op string, body []byte) []byte
}
