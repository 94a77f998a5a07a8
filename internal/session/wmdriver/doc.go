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
// # Messages that must be asked for again
//
// A message whatsmeow cannot decrypt (or that WhatsApp delivers as
// unavailable) is asked for again twice over: from its sender with a retry
// receipt, and from the account's phone with a placeholder resend request
// (with SynchronousAck whatsmeow sends it at once, and
// AutomaticMessageRerequestFromPhone, on as well, is what asks for it when
// acks are asynchronous); whichever copy comes back is an ordinary message.
// The undecryptable event itself is only logged (at debug, without phone
// numbers). whatsmeow acknowledges the undecryptable copy, so a message
// that neither the sender nor the phone sends again is lost; that includes
// one that arrives while the device store (Postgres) is unreachable, which
// whatsmeow cannot tell from a message it cannot decrypt.
//
// The other way round, a recipient that cannot decrypt what this device sent
// answers with a retry receipt, and whatsmeow must encrypt the message
// again. UseRetryMessageStore keeps every sent message in whatsmeow's own
// table (whatsmeow_retry_buffer, per device, pruned after 7 days and deleted
// with the device), so the answer does not depend on the client that sent
// it: the driver builds a new client on every reconnect, and a tenant may
// have moved to another worker since.
//
// # Media
//
// An attachment is downloaded with DownloadToFile into a file that refuses
// to grow past the caller's limit, and never held in memory. Failures that
// no retry fixes (404, 410 or 403 from the media servers, a hash or MAC
// mismatch, a truncated file, over the limit) are *wa.MediaError; for an
// expired one
// the driver also asks the phone to upload it again (a media retry
// receipt).
//
// Outgoing attachments carry what the pipeline read with internal/media
// (sizes, durations, a voice note's waveform, JPEG thumbnails), and their
// mimetype follows internal/media's rules: a voice note is always
// "audio/ogg; codecs=opus" and a sticker "image/webp", as WhatsApp requires.
//
// # Contents
//
// Reactions, edits and revokes are messages of their own that name their
// target with a message key (content.go): fromMe for the tenant's own
// message, else the author, as participant in a group. A poll carries a
// fresh message secret, which whatsmeow stores as it sends, so that votes
// on it can be decrypted; the options' names are remembered per tenant in
// memory (polls.go) to name what a vote chose. A read job sends read
// receipts, and typing_seconds a composing chat state (recording before a
// voice note), then paused. Inbound, edits and revokes are reported with
// their target instead of dropped (object.go).
//
// # Reconnecting
//
// EnableAutoReconnect is off: a dropped socket is reported as wa.Disconnected
// and the manager decides when to call Connect again. The manager is the one
// owner of reconnecting because every connect must hold the tenant's lease
// (a worker that lost it must not come back by itself: two connections of
// one device kick each other off), must be recorded as a session state, and
// must follow one policy for both drivers (backoff, bans, 405, stream
// replacement). Keepalive failures are reported as wa.KeepAliveTimeout with
// the time of the last answered ping; the manager decides when the socket is
// dead (whatsmeow itself would only act on them with auto-reconnect on).
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
// # Client version
//
// WhatsApp refuses logins of client versions it dropped (login failure 405,
// reported as wa.ConnectFailure with Code 405). whatsmeow announces the
// version of its own release, a process-wide setting; Driver.Run fetches the
// one WhatsApp Web currently announces (whatsmeow.GetLatestVersion, through
// Config.HTTPClient) at start, every Config.VersionRefresh and soon after a
// 405, and sets it with store.SetWAVersion. Logins read that setting while
// Run may write it, so both go through one lock.
// # Pairing
//
// whatsmeow's PrePairCallback delivers wa.PairPending before the pairing is
// confirmed to the phone and the device stored; the Handler's false answer
// refuses the pairing (the phone shows it failed, nothing is stored). A new
// device registers with Config.DeviceName as the name the phone lists and
// with bounds on the history it wants (props.go).
//
// # History sync
//
// ManualHistorySyncDownload is on: the driver reads the history blobs the
// phone uploads as streams from a temporary file and keeps only what sends
// need (tctokens, the LID map, the NCT salt), so a large history costs disk
// for a moment rather than heap (history.go).
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
