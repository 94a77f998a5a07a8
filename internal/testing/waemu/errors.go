package waemu

import "errors"

var (
	// ErrClosed is returned by waits that end because the server closed.
	ErrClosed = errors.New("waemu: server closed")
	// ErrBadPhone is returned for a phone number that is not 5-20 digits
	// (with optional "+", spaces, dashes or parentheses).
	ErrBadPhone = errors.New("waemu: malformed phone number")
	// ErrNotOnWhatsApp is returned for a number the server does not know and
	// will not create (it starts with 999, or Config.NoAutoContacts is set).
	ErrNotOnWhatsApp = errors.New("waemu: number is not on WhatsApp")
	// ErrUnknownDevice is returned for a device JID that is not a paired
	// client of this server.
	ErrUnknownDevice = errors.New("waemu: unknown device")
	// ErrNotPairing is returned by ScanQR for a code that no connected client
	// is showing (wrong code, expired, or the client went away).
	ErrNotPairing = errors.New("waemu: no client is showing this code")
	// ErrBadQR is returned by ScanQR for a string that is not a WhatsApp
	// pairing QR code.
	ErrBadQR = errors.New("waemu: malformed QR code")
	// ErrPairRejected is returned by ScanQR when the client refused the
	// pairing (its answer carries the client's error).
	ErrPairRejected = errors.New("waemu: client rejected the pairing")
	// ErrNotConnected is returned by operations that need the device to be
	// logged in right now.
	ErrNotConnected = errors.New("waemu: device is not connected")
	// ErrUnknownMedia is returned by Media for a URL or path nothing was
	// uploaded to.
	ErrUnknownMedia = errors.New("waemu: no such media")
)
