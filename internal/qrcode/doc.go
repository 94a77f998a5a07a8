// Package qrcode is a small, dependency-free QR code encoder.
//
// It implements the subset of ISO/IEC 18004 that the admin server needs to
// show WhatsApp pairing codes: byte mode only, error-correction level M,
// versions 1 to 40 (the smallest version that holds the data is chosen),
// Reed-Solomon error correction with block interleaving, all eight mask
// patterns scored with the standard penalty rules, format information and,
// from version 7 up, version information.
//
// Encode builds the module matrix; Code.PNG and PNG render it as a
// two-colour PNG with the 4-module quiet zone the standard requires.
//
//	png, err := qrcode.PNG("2@AbC...,key1,key2,key3", 8)
//
// Level M holds up to 2331 bytes (version 40); longer input fails with
// ErrTooLong.
package qrcode
