package qrcode

import "errors"

// ErrTooLong is returned by Encode and PNG when the data does not fit in a
// version 40 symbol at error-correction level M (more than MaxBytes bytes).
var ErrTooLong = errors.New("data too long for a QR code")

// ErrInvalidScale is returned by Code.PNG and PNG when scale is below 1 or
// above MaxScale.
var ErrInvalidScale = errors.New("invalid QR code scale")

// ErrInvalidCode is returned by Code.PNG for a nil Code or one that was not
// produced by Encode (for example a zero Code or one whose Size was changed).
var ErrInvalidCode = errors.New("invalid QR code")
