package event

// Reasons: the stable first word of a session event's reason (CONTRACT v2,
// "reason says why in a stable word first"). A reason is that word, then a
// colon and free text for people, so a subscriber can switch on the word.
const (
	// ReasonClientOutdated: WhatsApp refused this client version (its
	// login failure 405). The session retries slowly; an operator should
	// upgrade the gateway.
	ReasonClientOutdated = "client_outdated"
	// ReasonStreamReplaced: another client took over these credentials.
	// After repeated replacements the session stays disconnected until an
	// operator reconnects it.
	ReasonStreamReplaced = "stream_replaced"
	// ReasonKeepAliveTimeout: WhatsApp stopped answering keepalives, or
	// never answered the login, on a socket that looked open; the session
	// ended that connection and reconnects.
	ReasonKeepAliveTimeout = "keepalive_timeout"
	// ReasonBanned: WhatsApp banned the account for now (login failure
	// 402); the session retries when the ban lapses.
	ReasonBanned = "banned"
	// ReasonRestricted: WhatsApp refused a message with its error 463 (the
	// account may not contact new numbers for now). The event carries the
	// session's current state: it stays connected, and messages to known
	// contacts still go.
	ReasonRestricted = "restricted"
)
