// Package bus names wabus's NATS subjects, streams and buckets under one
// prefix (WA_SUBJECT_PREFIX), connects to NATS and provisions JetStream.
package bus

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/wabus/wabus/internal/vocab"
)

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidTenant reports whether id is a valid tenant id: 1-64 characters of
// letters, digits, '_' and '-', so it is always exactly one subject token.
func ValidTenant(id string) bool { return tenantPattern.MatchString(id) }

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

// SendPartitions is how many partitions the send stream stores its jobs
// under. It is fixed: a tenant's partition must not change while jobs of it
// are in the stream.
const SendPartitions = 8

// SendTransform is the send stream's subject transform: a job published on
// <p>.send.<tenant> is stored as <p>.send.<partition>.<tenant>, the
// partition a hash of the tenant id, so that a fixed number of ingest
// consumers each read one partition in stream order.
func (n Names) SendTransform() (source, destination string) {
	return n.prefix + ".send.*", n.prefix + ".send.{{partition(" + strconv.Itoa(SendPartitions) + ",1)}}.{{wildcard(1)}}"
}

// SendPartition is the stored subjects of one partition: <p>.send.<part>.*.
func (n Names) SendPartition(part int) string {
	return n.prefix + ".send." + strconv.Itoa(part) + ".*"
}

// SendUnpartitioned is the stored subjects of jobs published before the
// stream had its transform (a v1 deployment's): <p>.send.*.
func (n Names) SendUnpartitioned() string { return n.prefix + ".send.*" }

// SendStored returns the subjects under which a tenant's jobs may be
// stored: partitioned, and as published before the transform.
func (n Names) SendStored(tenant string) []string {
	return []string{n.prefix + ".send.*." + tenant, n.Send(tenant)}
}

// SendTenant returns the tenant token of a stored send subject (either
// form), or "" when subject is not one.
func (n Names) SendTenant(subject string) string {
	rest, ok := strings.CutPrefix(subject, n.prefix+".send.")
	if !ok {
		return ""
	}
	if _, tenant, ok := strings.Cut(rest, "."); ok {
		return tenant
	}
	return rest
}

// Bell is where ingest rings the owners of tenants that got new jobs (core
// NATS, a BellMessage): <p>.bell.
func (n Names) Bell() string { return n.prefix + ".bell" }

// BellMessage is the body of a bell: the tenants that may have jobs to
// send now.
type BellMessage struct {
	Tenants []string `json:"tenants"`
}

// Event is the subject of a tenant's events of kind: <p>.events.<tenant>.<token>.
func (n Names) Event(tenant string, kind vocab.EventKind) string {
	return n.prefix + ".events." + tenant + "." + kind.Token
}

// Events is the subject of all of a tenant's events: <p>.events.<tenant>.>.
func (n Names) Events(tenant string) string { return n.prefix + ".events." + tenant + ".>" }

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
