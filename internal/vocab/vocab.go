// Package vocab is the gateway's vocabulary, defined once: the content kinds
// of a send job and of an inbound message, the session states, and the event
// kinds with their subject token and CloudEvents type (CONTRACT's tables).
// It imports nothing of the gateway, so every package can use it.
package vocab

// Content kinds: the content key of a send job, the `type` of a simulator
// delivered notice and of an inbound message event.
const (
	ContentText     = "text"
	ContentDocument = "document"
	ContentImage    = "image"
	ContentAudio    = "audio"
	ContentVideo    = "video"
	ContentSticker  = "sticker"
	ContentReaction = "reaction"
	ContentEdit     = "edit"
	ContentRevoke   = "revoke"
	ContentLocation = "location"
	ContentContact  = "contact"
	ContentPoll     = "poll"
	// ContentRead is a send job that marks messages read; it sends no message.
	ContentRead = "read"
	// ContentPollVote is an inbound vote on a poll (never sent by a job).
	ContentPollVote = "poll_vote"
	// ContentOther is an inbound message of a kind the gateway does not map.
	ContentOther = "other"
)

// MediaKinds are the content kinds that carry an attachment.
var MediaKinds = []string{ContentDocument, ContentImage, ContentAudio, ContentVideo, ContentSticker}

// IsMedia reports whether kind carries an attachment.
func IsMedia(kind string) bool {
	for _, k := range MediaKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Session states (CONTRACT's "Tenants"): the state column of wabus_tenant
// and the state of a session event.
const (
	// StateUnpaired is a known tenant without a device.
	StateUnpaired = "unpaired"
	// StatePairing is a tenant whose QR or phone code is being shown.
	StatePairing = "pairing"
	// StateConnecting is a session dialling WhatsApp.
	StateConnecting = "connecting"
	// StateConnected is a session logged in: it sends and receives.
	StateConnected = "connected"
	// StateDisconnected is a session that will retry with backoff.
	StateDisconnected = "disconnected"
	// StateBanned is WhatsApp's temporary ban; sends pause until it lapses.
	StateBanned = "banned"
	// StateLoggedOut is a tenant whose device WhatsApp removed; its
	// credentials were deleted and it needs a new pairing.
	StateLoggedOut = "logged_out"
)

// States are the session states, in the contract's order.
var States = []string{StateUnpaired, StatePairing, StateConnecting, StateConnected, StateDisconnected, StateBanned, StateLoggedOut}

// EventKind is a kind of event (CONTRACT's "Events"): Token is the last
// token of its subject, wa.events.<tenant>.<token>, and Type its
// CloudEvents type.
type EventKind struct {
	Token string
	Type  string
}

// Event kinds.
var (
	// EventMessage is an inbound message.
	EventMessage = EventKind{Token: "message", Type: "wa.message.received"}
	// EventSent is a send job that WhatsApp accepted.
	EventSent = EventKind{Token: "sent", Type: "wa.message.sent"}
	// EventFailed is a send job that failed for good.
	EventFailed = EventKind{Token: "failed", Type: "wa.message.failed"}
	// EventReceipt is a delivery or read receipt.
	EventReceipt = EventKind{Token: "receipt", Type: "wa.receipt"}
	// EventSession is a session state change.
	EventSession = EventKind{Token: "session", Type: "wa.session.state"}
)

// EventKinds are the event kinds, in the contract's order.
var EventKinds = []EventKind{EventMessage, EventSent, EventFailed, EventReceipt, EventSession}

// EventKindOf returns the event kind whose subject token is token, and
// false when there is none.
func EventKindOf(token string) (EventKind, bool) {
	for _, k := range EventKinds {
		if k.Token == token {
			return k, true
		}
	}
	return EventKind{}, false
}
