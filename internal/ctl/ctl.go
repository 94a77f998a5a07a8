// Package ctl is the control protocol between admin and the workers: core
// NATS request/reply on <prefix>.ctl.<tenant>.<op>, answered by the worker
// that owns the tenant (any worker receives it and forwards it to the
// owner, acquiring the tenant first when nobody owns it), and the pairing
// events the owner publishes on <prefix>.pairing.<tenant>.
package ctl

// Operations on <prefix>.ctl.<tenant>.<op>.
const (
	// OpPair starts QR pairing (or reports the current code or state).
	OpPair = "pair"
	// OpPairPhone starts pairing by phone number; the body is a Request
	// with Phone, the reply carries PairCode.
	OpPairPhone = "pair-phone"
	// OpLogout logs the device out of WhatsApp and deletes its credentials.
	OpLogout = "logout"
	// OpReconnect drops the connection and connects again at once.
	OpReconnect = "reconnect"
)

// Error codes of a Reply.
const (
	CodeNotFound      = "not_found"
	CodeNotPairing    = "not_pairing"
	CodeAlreadyPaired = "already_paired"
	CodeNotPaired     = "not_paired"
	CodeInvalidPhone  = "invalid_phone"
	CodeInvalid       = "invalid_request"
	CodeUnavailable   = "unavailable"
	CodeTimeout       = "timeout"
	CodeInternal      = "internal"
)

// Request is the optional JSON body of a control request.
type Request struct {
	Phone string `json:"phone,omitempty"`
}

// Reply answers a control request: {} or {"error", "code"} plus what the
// operation reports.
type Reply struct {
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
	// State is the session state after the operation.
	State string `json:"state,omitempty"`
	JID   string `json:"jid,omitempty"`
	// QR is the QR code being shown while pairing, valid for ExpiresIn seconds.
	QR        string `json:"qr,omitempty"`
	ExpiresIn int    `json:"expires_in,omitempty"`
	// PairCode is the phone pairing code (pair-phone).
	PairCode string `json:"pair_code,omitempty"`
}

// Errorf builds an error reply.
func Errorf(code, msg string) Reply { return Reply{Error: msg, Code: code} }

// Pairing event names on <prefix>.pairing.<tenant>.
const (
	PairingQR      = "qr"
	PairingState   = "state"
	PairingPaired  = "paired"
	PairingTimeout = "timeout"
)

// PairingEvent is published by the owner while a tenant pairs.
type PairingEvent struct {
	Event     string `json:"event"`
	Code      string `json:"code,omitempty"`
	ExpiresIn int    `json:"expires_in,omitempty"`
	State     string `json:"state,omitempty"`
	JID       string `json:"jid,omitempty"`
}
