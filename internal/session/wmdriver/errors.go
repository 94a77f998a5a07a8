package wmdriver

import "errors"

// ErrInvalidOpen is returned by Driver.Open for a nil device, a device that
// belongs to no Store, or a nil handler.
var ErrInvalidOpen = errors.New("open needs a device from a store and a handler")

// errPairingStopped ends a QR pairing that Disconnect or a new PairQR
// interrupted; it reaches the caller as the Err of an "error" QREvent.
var errPairingStopped = errors.New("qr pairing stopped")

// errPairNotReady is returned by PairPhone when WhatsApp did not offer
// pairing on the socket within Config.PairReadyTimeout.
var errPairNotReady = errors.New("whatsapp did not offer pairing in time")

// errHistoryMalformed is returned while reading a history sync blob that
// is not a HistorySync protobuf.
var errHistoryMalformed = errors.New("malformed history sync blob")

// errHistoryTooLarge is returned for a history sync blob over
// Config.HistoryMaxBytes, which is not downloaded.
var errHistoryTooLarge = errors.New("history sync blob too large")
