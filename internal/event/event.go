// Package event defines the CloudEvents 1.0 envelope wabus publishes on
// wa.events.<tenant>.<kind>, and the data of each kind (CONTRACT's table).
package event

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wabus/wabus/internal/vocab"
)

// Event is a CloudEvents 1.0 event in structured JSON mode.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// New builds an event of kind for tenant with the given id and data; its
// type is the kind's CloudEvents type. subject is the CloudEvents subject
// (the job id for sent/failed), or "". It returns an error only when data
// cannot be marshalled to JSON.
func New(tenant string, kind vocab.EventKind, id, subject string, at time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("marshal %s data: %w", kind.Token, err)
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              id,
		Source:          "wa/" + tenant,
		Type:            kind.Type,
		Subject:         subject,
		Time:            at.UTC(),
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// StableID derives an event id from the parts that identify what happened,
// so that reporting the same thing twice yields the same id (and JetStream
// drops the second copy within its duplicate window).
func StableID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// RandomID returns a fresh random event id for one-off events.
func RandomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
