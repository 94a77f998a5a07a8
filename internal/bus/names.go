// Package bus names wabus's NATS subjects, streams and buckets under one
// prefix (WA_SUBJECT_PREFIX), connects to NATS and provisions JetStream.
package bus

import (
	"regexp"
	"strings"
)

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidTenant reports whether id is a valid tenant id: 1-64 characters of
// letters, digits, '_' and '-', so it is always exactly one subject token.
func ValidTenant(id string) bool { return tenantPattern.MatchString(id) }

// Event kinds: the last token of wa.events.<tenant>.<kind>.
const (
	KindMessage = "message"
	KindSent    = "sent"
	KindFailed  = "failed"
	KindReceipt = "receipt"
	KindSession = "session"
)

// Names derives every subject, stream and bucket name from one prefix.
// The zero value is not usable; build it with NewNames.
type Names struct {
	prefix string // subject prefix, e.g. "wa"
	stream string // stream name prefix, e.g. "WA"
	bucket string // bucket name prefix, e.g. "wa"
}

// NewNames returns the names under prefix, which config has validated
// (dot-separated tokens of [A-Za-z0-9_-]).
func NewNames(prefix string) Names {
	return Names{
		prefix: prefix,
		stream: strings.ToUpper(strings.ReplaceAll(prefix, ".", "_")),
		bucket: strings.ReplaceAll(prefix, ".", "-"),
	}
}

// Prefix returns the subject prefix.
func (n Names) Prefix() string { return n.prefix }

// SendStream is the work-queue stream of send jobs, e.g. WA_SEND.
func (n Names) SendStream() string { return n.stream + "_SEND" }

// EventsStream is the stream of events, e.g. WA_EVENTS.
func (n Names) EventsStream() string { return n.stream + "_EVENTS" }

// DLQStream is the stream of jobs that failed for good, e.g. WA_DLQ.
func (n Names) DLQStream() string { return n.stream + "_DLQ" }

// MediaBucket is the object store of outgoing media, e.g. wa-media.
func (n Names) MediaBucket() string { return n.bucket + "-media" }

// InboundMediaBucket is the object store of inbound media, e.g. wa-inbound-media.
func (n Names) InboundMediaBucket() string { return n.bucket + "-inbound-media" }

// Send is the subject of a tenant's send jobs: <p>.send.<tenant>.
func (n Names) Send(tenant string) string { return n.prefix + ".send." + tenant }

// Event is the subject of a tenant's events of kind: <p>.events.<tenant>.<kind>.
func (n Names) Event(tenant, kind string) string {
	return n.prefix + ".events." + tenant + "." + kind
}

// DLQ is the subject of a tenant's dead letters: <p>.dlq.<tenant>.
func (n Names) DLQ(tenant string) string { return n.prefix + ".dlq." + tenant }

// Ctl is the control request subject: <p>.ctl.<tenant>.<op>.
func (n Names) Ctl(tenant, op string) string { return n.prefix + ".ctl." + tenant + "." + op }

// Sim is the simulator's subject: <p>.sim.<tenant>.<op>.
func (n Names) Sim(tenant, op string) string { return n.prefix + ".sim." + tenant + "." + op }

// Pairing is where the owner of a pairing tenant publishes each QR code and
// the pairing's end, for admin's live stream: <p>.pairing.<tenant>.
func (n Names) Pairing(tenant string) string { return n.prefix + ".pairing." + tenant }

// Worker is a worker's private subject root, to which control requests are
// forwarded once the owner is known: <p>.worker.<id>.
func (n Names) Worker(id string) string { return n.prefix + ".worker." + id }

// Token returns the i-th dot-separated token of subject after the prefix
// (0 is the kind: send, events, ctl...), or "" when there is none.
func (n Names) Token(subject string, i int) string {
	rest, ok := strings.CutPrefix(subject, n.prefix+".")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, ".")
	if i < 0 || i >= len(parts) {
		return ""
	}
	return parts[i]
}
