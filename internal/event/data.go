package event

import "time"

// Message is the data of a message event (wa.message.received). Chat and
// Sender are phone-number JIDs (<digits>@s.whatsapp.net) whenever the
// gateway knows the number (from the message or the device store's LID
// map), a group JID for a group chat, and a LID (<n>@lid) only when the
// number is unknown. SenderLID and ChatLID are the LIDs of Sender and of a
// one-to-one Chat when there is one; ChatLID is "" for a group.
type Message struct {
	MessageID string    `json:"message_id"`
	Chat      string    `json:"chat"`
	Sender    string    `json:"sender"`
	SenderLID string    `json:"sender_lid,omitempty"`
	ChatLID   string    `json:"chat_lid,omitempty"`
	PushName  string    `json:"push_name"`
	Timestamp time.Time `json:"timestamp"`
	IsGroup   bool      `json:"is_group"`
	FromMe    bool      `json:"from_me"`
	// Type is one of vocab's content kinds: text, image, document, audio,
	// video, sticker, reaction, location, contact, edit, revoke, poll,
	// poll_vote or other.
	Type    string `json:"type"`
	Text    string `json:"text"`
	Media   *Media `json:"media,omitempty"`
	ReplyTo string `json:"reply_to,omitempty"`
	// The content object of the kinds that have one, under the kind's key.
	// For a reaction, Text is also the emoji and ReplyTo the target; for an
	// edit, Text is the new text; for a location and a contact, Text is
	// the rendering v1 gave (coordinates and labels, the vCard).
	Reaction *Reaction `json:"reaction,omitempty"`
	Edit     *Edit     `json:"edit,omitempty"`
	Revoke   *Revoke   `json:"revoke,omitempty"`
	Location *Location `json:"location,omitempty"`
	Contact  *Contact  `json:"contact,omitempty"`
	Poll     *Poll     `json:"poll,omitempty"`
	PollVote *PollVote `json:"poll_vote,omitempty"`
	// MediaError is set, and Media is not, when the message has an
	// attachment that could not be stored: one of the MediaError codes.
	MediaError string `json:"media_error,omitempty"`
}

// Why an inbound attachment was not stored (Message.MediaError).
const (
	// MediaExpired: WhatsApp's media servers no longer have it (404, 410).
	MediaExpired = "expired"
	// MediaCorrupt: what the media servers returned does not match the
	// message (hash, MAC or length).
	MediaCorrupt = "corrupt"
	// MediaTooLarge: it is larger than the worker's WA_INBOUND_MEDIA_MAX.
	MediaTooLarge = "too_large"
	// MediaUnavailable: downloading it failed on several deliveries of the
	// message (network errors, timeouts).
	MediaUnavailable = "unavailable"
)

// Media describes an inbound attachment stored in the wa-inbound-media bucket.
type Media struct {
	Object   string `json:"object"`
	Mimetype string `json:"mimetype"`
	Filename string `json:"filename,omitempty"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// Sent is the data of a sent event (wa.message.sent). ToJID is the JID
// WhatsApp delivered to: the recipient's LID when WhatsApp addresses it by
// LID, else its phone or group JID.
type Sent struct {
	JobID     string    `json:"job_id"`
	MessageID string    `json:"message_id"`
	To        string    `json:"to"`
	ToJID     string    `json:"to_jid,omitempty"`
	Timestamp time.Time `json:"timestamp"`
}

// Failed is the data of a failed event (wa.message.failed).
type Failed struct {
	JobID    string `json:"job_id"`
	To       string `json:"to"`
	Code     string `json:"code"`
	Error    string `json:"error"`
	Attempts int    `json:"attempts"`
}

// Receipt is the data of a receipt event (wa.receipt). Chat, Sender,
// SenderLID and ChatLID name identities as in Message.
type Receipt struct {
	MessageIDs []string  `json:"message_ids"`
	Chat       string    `json:"chat"`
	Sender     string    `json:"sender"`
	SenderLID  string    `json:"sender_lid,omitempty"`
	ChatLID    string    `json:"chat_lid,omitempty"`
	Type       string    `json:"type"` // delivered, read or played
	Timestamp  time.Time `json:"timestamp"`
}

// Session is the data of a session event (wa.session.state).
type Session struct {
	State  string `json:"state"`
	JID    string `json:"jid"`
	Reason string `json:"reason"`
	Worker string `json:"worker"`
}

// Failure codes of failed events and DLQ entries. CodeRestricted: WhatsApp
// refused the message because the account may not contact new numbers for
// now (its error 463); such a job fails at once and is not retried.
const (
	CodeInvalidJob       = "invalid_job"
	CodeInvalidRecipient = "invalid_recipient"
	CodeNotOnWhatsApp    = "not_on_whatsapp"
	CodeMediaInvalid     = "media_invalid"
	CodeMediaTooLarge    = "media_too_large"
	CodeExpired          = "expired"
	CodeCancelled        = "cancelled"
	CodeLoggedOut        = "logged_out"
	CodeSendFailed       = "send_failed"
	CodeRestricted       = "restricted"
	// CodeUnknownMessage: an edit or revoke names a message id this tenant
	// did not send (or not to that chat).
	CodeUnknownMessage = "unknown_message"
)
