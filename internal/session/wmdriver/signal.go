package wmdriver

import "go.mau.fi/whatsmeow/util/keys"

// libsignal, beneath whatsmeow, sets up its package logger lazily and
// unguarded the first time it logs, which signing a prekey does: two
// devices made at once (two tenants pairing) race on it. One signature
// when the driver's package starts, before any session, sets it up.
func init() { _ = keys.NewKeyPair().CreateSignedPreKey(0) }
