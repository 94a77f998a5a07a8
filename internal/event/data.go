package event

import "time"

// Message is the data of a message event (wa.message.received).
type Message struct {
	MessageID string    `json:"message_id"`
	Chat      string    `json:"chat"`
	Sender    string    `json:"sender"`
	PushName  string    `json:"push_name"`
	Timestamp time.Time `json:"timestamp"`
	IsGroup   bool      `json:"is_group"`
	FromMe    bool      `json:"from_me"`
	// Type is text, image, document, audio, video, sticker, reaction,
	// location, contact or other.
	Type    string `json:"type"`
	Text    string `json:"text"`
	Media   *Media `json:"media,omitempty"`
	ReplyTo string `json:"reply_to,omitempty"`
}

// Media describes an inbound attachment stored in the wa-inbound-media bucket.
type Media struct {
	Object   string `json:"object"`
	Mimetype string `json:"mimetype"`
	Filename string `json:"filename,omitempty"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// Sent is the data of a sent event (wa.message.sent).
type Sent struct {
	JobID     string    `json:"job_id"`
	MessageID string    `json:"message_id"`
	To        string    `json:"to"`
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

// Receipt is the data of a receipt event (wa.receipt).
type Receipt struct {
	MessageIDs []string  `json:"message_ids"`
	Chat       string    `json:"chat"`
	Sender     string    `json:"sender"`
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

// Failure codes of failed events and DLQ entries.
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
)
