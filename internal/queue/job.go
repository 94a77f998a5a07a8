package queue

import (
	"time"
)

// Job statuses, as the jobs route shows them.
const (
	StatusQueued  = "queued"
	StatusSending = "sending"
	StatusSent    = "sent"
	StatusFailed  = "failed"
)

// Job is one row of the job table.
type Job struct {
	Tenant string
	ID     string
	// Seq is the job's sequence in the send stream (its order).
	Seq    int64
	Status string
	// Payload is the job as published; nil once the job is done.
	Payload []byte
	// To and Kind are the job's recipient and content kind, "" when the
	// job was too malformed to say.
	To, Kind  string
	Attempts  int
	Code      string
	Error     string
	MessageID string
	// ToJID is the JID WhatsApp delivered a sent job to.
	ToJID     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UpdatedAt time.Time
	// SentAt is WhatsApp's timestamp of a sent job.
	SentAt *time.Time
}

// Fence is the tenant lease a write is made under: it succeeds only while
// (Owner, Epoch) still holds.
type Fence struct {
	Owner string
	Epoch int64
}

// Outcome is how a job ended.
type Outcome struct {
	// Sent is true for sent, false for failed.
	Sent      bool
	MessageID string
	// ToJID is the JID WhatsApp delivered to (the sent event's to_jid).
	ToJID string
	// SentAt is WhatsApp's timestamp of the message.
	SentAt   time.Time
	Code     string
	Error    string
	Attempts int
}
