// Package wmdriver is the wa.Driver for the real WhatsApp network, built on
// go.mau.fi/whatsmeow. It turns whatsmeow events into wa events and wa
// OutMessages into WhatsApp messages; the session manager above it owns
// leases, state and reconnect policy.
//
// # Acknowledgements
//
// Each client runs with SynchronousAck and EnableDecryptedEventBuffer. A
// message or receipt is acknowledged to WhatsApp only after the wa.Handler
// answers true (the event is durable); on false, or when handling panics,
// WhatsApp delivers it again. Redelivered ciphertext cannot be decrypted a
// second time (the Signal ratchet has moved on), so whatsmeow keeps the
// plaintext of a decrypted but unacknowledged message in its device store
// (table whatsmeow_event_buffer) and replays it from there; it clears the
// plaintext once the handler succeeded.
//
// # Reconnecting
//
// EnableAutoReconnect is off: a dropped socket is reported as wa.Disconnected
// and the manager decides when to call Connect again. Keepalive failures are
// reported as wa.KeepAliveTimeout and never force a reconnect by themselves.
//
// One reconnect is the driver's own: right after pairing, WhatsApp ends the
// stream with error 515 ("restart required") and the client must log in again
// on a new socket. whatsmeow handles 515 independently of EnableAutoReconnect,
// but it only logs a failure of that reconnect. The driver therefore sets
// DisableLoginAutoReconnect and does the reconnect itself when whatsmeow
// emits ManualLoginReconnect: it logs in once with the stored credentials, and
// if that fails it reports wa.Disconnected so that the manager's backoff takes
// over (the device is stored by then, so a later Connect logs in). Pairing
// thus ends with PairSuccess followed by Connected, or by Disconnected.
//
// # Contexts
//
// whatsmeow ties a socket's whole life (reads, keepalives, event handling) to
// the context given to ConnectContext. Connect therefore dials with a context
// that carries the caller's values and is cancelled by the caller's context
// only until the socket is up; after that it lives until Disconnect or Logout.
//
// # Identities and sends
//
// Events name users by phone number whenever it is known: from the
// message's alternate JIDs (sender_pn, participant_pn, peer_recipient_pn),
// else from the device store's LID map, with the LID beside (identity.go).
// A failed send is classified by WhatsApp's error ack code (sendError): 463
// is restricted and is reported as wa.Restricted too; other client errors
// are permanent; 408, 429 and server errors are transient. A reply names
// the quoted message's author (quote.go): this account, from the authors
// of recent messages the Driver saw or whatsmeow's retry buffer
// (UseRetryMessageStore, seven days), else the other party of a one-to-one
// chat; an unknown group message is quoted without an author.
//
// # Logging
//
// NewLogger adapts a *slog.Logger to whatsmeow's waLog.Logger. whatsmeow's
// debug output (every stanza) goes to slog's Debug level; lines known to carry
// key material (QR codes) are dropped.
package wmdriver
