package wa

import "errors"

// ErrAlreadyPaired is returned by PairQR and PairPhone for a device that is
// already paired.
var ErrAlreadyPaired = errors.New("device is already paired")

// ErrNotConnected is returned by Send, Registered and PairPhone when the Conn
// is not connected.
var ErrNotConnected = errors.New("not connected to whatsapp")

// ErrInvalidPhone is returned by PairPhone for a malformed phone number.
var ErrInvalidPhone = errors.New("invalid phone number")
