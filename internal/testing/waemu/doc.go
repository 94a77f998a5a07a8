// Package waemu is a fake WhatsApp multi-device server for tests: the real
// whatsmeow client connects to it, pairs, logs in, sends and receives end to
// end encrypted messages and uploads media, all on 127.0.0.1 with no
// internet. It is test infrastructure, imported only from _test.go files.
//
// It speaks the protocol, not a mock of the client: the WhatsApp frame
// format over a websocket (the server half of RFC 6455 is in ws.go), the
// Noise_XX_25519_AESGCM_SHA256 handshake with a certificate chain signed by
// a per-process test root, binary XML stanzas through whatsmeow's binary
// package, and Signal sessions through libsignal. The server plays every
// phone itself: the contacts a client talks to and the primary phone of each
// paired account are emulated devices with their own identity keys and
// prekeys.
//
// # Pointing a client at it
//
//	srv := waemu.Start(t) // before any whatsmeow client exists
//	cli := whatsmeow.NewClient(device, log)
//	srv.Configure(cli) // websocket (pre- and post-login) and media HTTP clients
//
// Configure is shorthand for SetPreLoginHTTPClient, SetWebsocketHTTPClient
// and SetMediaHTTPClient with srv.HTTPClient(), whose transport dials the
// emulator for every host and hands net/http the plain TCP connection as if
// it were TLS. Start also sets whatsmeow.WACertPubKey (a process global,
// once) to the test root, so a process that runs the emulator cannot talk to
// the real WhatsApp.
//
// # What it does
//
//   - Pairing: a new device gets pair-device refs and shows QR codes;
//     ScanQR (or ScanQRAs for a chosen number) plays the phone. Phone-code
//     pairing works too: PairPhone on the client, EnterPairingCode here.
//     After pairing the server sends stream error 515 and the client logs in
//     as its new device. Known devices get <success> on login.
//   - Info queries: prekey count and upload, prekey bundles, usync (device
//     lists, "is on WhatsApp", LIDs), media_conn, privacy settings, passive,
//     keepalive, logout; an empty result for anything else.
//   - Sending: every number not starting with 999 is on WhatsApp (see
//     Config.NoAutoContacts and AddContact). The contact's phone decrypts
//     what the client sends; Received and WaitReceived show it. Copies for
//     other paired clients are relayed to them. Media uploads are stored
//     (Media) and served back to downloads.
//   - What a phone makes of it: PhoneView downloads a received message's
//     attachment and checks the fields a phone needs per kind (a voice
//     note's PTT, Opus mimetype, seconds and waveform; an image's
//     thumbnail and dimensions; a sticker's WebP; a reaction's, edit's or
//     revoke's key: chat, fromMe, participant). ChatStates lists the
//     "typing…"/"recording…" a client showed, ClientReceipts the receipts
//     (read marks) it sent.
//   - Receiving: SendText and SendMessage encrypt as a contact and deliver;
//     Acked and WaitAcked observe the client's receipt or ack. Unacknowledged
//     messages and receipts are resent on every login, and every
//     Config.RedeliverEvery.
//   - Pairing details: DeviceProps shows what a client registered with (its
//     device name, the history it asked for); LinkCodes counts phone-code
//     registrations; Config.LinkCodeDelay makes WhatsApp slow to answer them.
//   - History sync: NewHistorySync builds and uploads a blob of a chosen
//     size (zlib, encrypted, with tctokens, LID mappings and an NCT salt),
//     SendHistorySync announces it from the account's phone, as
//     Config.HistoryAfterPair does after every pairing; HistoryDeleted tells
//     whether the client deleted it.
//   - Identities: SetAddressing moves a contact's chat to LID addressing
//     (from its LID with sender_pn, or its LID alone), as WhatsApp's LID
//     migration does mid-conversation; SendLIDMigration plays the phone's
//     LID migration sync; a LID-addressed message relayed to the sender's
//     other clients carries peer_recipient_pn.
//   - Send errors: RejectSends answers a client's next messages with error
//     acks (429, 479, ...); Restrict refuses messages to new contacts with
//     463, letting through contacts the account wrote to or heard from and
//     messages carrying a trusted-contact token (IssuePrivacyToken).
//   - Faults: Fail401, StreamReplaced, DropSocket. A second login of the
//     same device replaces the first, as on WhatsApp. A connection's life:
//     HalfOpen (the socket stays open but nothing answers, keepalives
//     included), SilenceLogins (the login is never answered),
//     ClientOutdated and RequireVersion (<failure reason="405">),
//     TemporaryBan (<failure reason="402">, with or without an expiry);
//     LoginAttempts counts every login tried.
//   - The web client's page (GET https://web.whatsapp.com/), from which
//     whatsmeow.GetLatestVersion reads the current version: SetWebVersion,
//     FailWebVersion.
//   - Media: FailMedia and CorruptMedia break downloads of a blob (404/410,
//     hash mismatch); MediaRetries lists the client's requests for a new
//     upload.
//   - Retries: SendUndecryptable and SendUnavailable deliver a message the
//     client cannot read; the sender's phone answers its retry receipt (or
//     not) and the account's phone its placeholder resend request
//     (RetryReceipts, PhoneRequests). RequestRetry plays a recipient that
//     lost its session and asks the client to encrypt a message again.
//
// Redelivered messages reach whatsmeow's event handlers again only with
// Client.EnableDecryptedEventBuffer set: otherwise whatsmeow sees a counter it
// already used, drops the message and acknowledges it.
//
// State is in memory and lives as long as the Server.
package waemu
