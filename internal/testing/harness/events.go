package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/vocab"
)

// Outcome is what the events stream said about one job.
type Outcome struct {
	// Sent and Failed hold the ids of the sent and failed events seen.
	Sent, Failed map[string]bool
	// Code is the failure code of the last failed event.
	Code string
	// At is when the first outcome event was stored in the stream.
	At time.Time
}

// Events reads the events stream under one prefix from its start and keeps
// reading: outcomes per job and inbound message ids per tenant. Build it
// with CollectEvents; Close it when done.
type Events struct {
	names bus.Names
	cc    jetstream.ConsumeContext

	mu       sync.Mutex
	outcomes map[JobKey]*Outcome
	messages map[string]map[string]int // tenant → message id → events
}

// CollectEvents starts an ordered consumer on the events stream (sent,
// failed and message events). It survives a nats-server restart. It returns
// an error when the stream does not exist or the consumer cannot be made.
func CollectEvents(ctx context.Context, js jetstream.JetStream, names bus.Names) (*Events, error) {
	e := &Events{
		names:    names,
		outcomes: map[JobKey]*Outcome{},
		messages: map[string]map[string]int{},
	}
	p := names.Prefix()
	cons, err := js.OrderedConsumer(ctx, names.EventsStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{
			p + ".events.*." + vocab.EventSent.Token, p + ".events.*." + vocab.EventFailed.Token, p + ".events.*." + vocab.EventMessage.Token,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("events: ordered consumer: %w", err)
	}
	e.cc, err = cons.Consume(e.onMsg)
	if err != nil {
		return nil, fmt.Errorf("events: consume: %w", err)
	}
	return e, nil
}

// Close stops reading.
func (e *Events) Close() { e.cc.Stop() }

// envelope is the part of a CloudEvent the collector reads.
type envelope struct {
	ID   string `json:"id"`
	Data struct {
		JobID     string `json:"job_id"`
		Code      string `json:"code"`
		MessageID string `json:"message_id"`
	} `json:"data"`
}

func (e *Events) onMsg(m jetstream.Msg) {
	var ev envelope
	if json.Unmarshal(m.Data(), &ev) != nil {
		return
	}
	tenant, kind := e.names.Token(m.Subject(), 1), e.names.Token(m.Subject(), 2)
	var at time.Time
	if meta, err := m.Metadata(); err == nil {
		at = meta.Timestamp
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch kind {
	case vocab.EventSent.Token, vocab.EventFailed.Token:
		e.outcome(JobKey{tenant, ev.Data.JobID}, kind, ev, at)
	case vocab.EventMessage.Token:
		ids := e.messages[tenant]
		if ids == nil {
			ids = map[string]int{}
			e.messages[tenant] = ids
		}
		ids[ev.Data.MessageID]++
	}
}

func (e *Events) outcome(k JobKey, kind string, ev envelope, at time.Time) {
	o := e.outcomes[k]
	if o == nil {
		o = &Outcome{Sent: map[string]bool{}, Failed: map[string]bool{}, At: at}
		e.outcomes[k] = o
	}
	if kind == vocab.EventSent.Token {
		o.Sent[ev.ID] = true
	} else {
		o.Failed[ev.ID] = true
		o.Code = ev.Data.Code
	}
}

// Outcome returns what the stream said about job k.
func (e *Events) Outcome(k JobKey) (Outcome, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.outcomes[k]
	if !ok {
		return Outcome{}, false
	}
	return *o, true
}

// Outcomes returns how many jobs have at least one outcome event.
func (e *Events) Outcomes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.outcomes)
}

// Seen reports whether a message event with message id id arrived for
// tenant.
func (e *Events) Seen(tenant, id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.messages[tenant][id] > 0
}

// Messages returns how many distinct inbound message ids were seen.
func (e *Events) Messages() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ids := range e.messages {
		n += len(ids)
	}
	return n
}
