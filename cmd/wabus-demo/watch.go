package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// watcher prints what a tenant's subscribers see (events, dead letters and
// the simulator's notices) and tallies it, so the demo knows when every
// outcome it waits for has arrived.
type watcher struct {
	names bus.Names
	start time.Time
	subs  []*nats.Subscription

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every message
	seen    tally
}

// tally is what arrived so far.
type tally struct {
	sent      map[string]string // job id → WhatsApp message id
	failed    map[string]string // job id → failure code
	read      map[string]bool   // message ids with a read receipt
	inbound   map[string]bool   // message ids of inbound messages
	dlq       int
	delivered int
}

// watch subscribes to the tenant's events, dead letters and simulator
// notices. It returns an error when a subscription fails.
func watch(nc *nats.Conn, names bus.Names, tenant string) (*watcher, error) {
	w := &watcher{names: names, start: time.Now(), changed: make(chan struct{}), seen: tally{
		sent: map[string]string{}, failed: map[string]string{}, read: map[string]bool{}, inbound: map[string]bool{},
	}}
	for _, subject := range []string{
		names.Events(tenant), names.DLQ(tenant),
		names.Sim(tenant, "delivered"), names.Sim(tenant, "connected"), names.Sim(tenant, "disconnected"),
	} {
		sub, err := nc.Subscribe(subject, w.on)
		if err != nil {
			w.stop()
			return nil, fmt.Errorf("subscribe %s: %w", subject, err)
		}
		w.subs = append(w.subs, sub)
	}
	return w, nc.Flush()
}

// stop ends the subscriptions.
func (w *watcher) stop() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
}

// on prints and tallies one message.
func (w *watcher) on(m *nats.Msg) {
	w.mu.Lock()
	defer w.mu.Unlock()
	at := time.Since(w.start).Seconds()
	switch w.names.Token(m.Subject, 0) {
	case "events":
		w.onEvent(at, m)
	case "dlq":
		w.seen.dlq++
		fmt.Printf("  +%6.3fs  dlq    %-28s Wa-Error-Code=%s  %s\n", at, m.Subject, m.Header.Get("Wa-Error-Code"), m.Data)
	default:
		if w.names.Token(m.Subject, 2) == "delivered" {
			w.seen.delivered++
		}
		fmt.Printf("  +%6.3fs  sim    %-28s %s\n", at, m.Subject, m.Data)
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// onEvent prints a CloudEvent as its type and data, and tallies it.
func (w *watcher) onEvent(at float64, m *nats.Msg) {
	var ev event.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		fmt.Printf("  +%6.3fs  event  %-28s (not a CloudEvent: %v)\n", at, m.Subject, err)
		return
	}
	fmt.Printf("  +%6.3fs  event  %-28s %-20s %s\n", at, m.Subject, ev.Type, ev.Data)
	switch ev.Type {
	case vocab.EventSent.Type:
		var d event.Sent
		if json.Unmarshal(ev.Data, &d) == nil {
			w.seen.sent[d.JobID] = d.MessageID
		}
	case vocab.EventFailed.Type:
		var d event.Failed
		if json.Unmarshal(ev.Data, &d) == nil {
			w.seen.failed[d.JobID] = d.Code
		}
	case vocab.EventReceipt.Type:
		var d event.Receipt
		if json.Unmarshal(ev.Data, &d) == nil && d.Type == "read" {
			for _, id := range d.MessageIDs {
				w.seen.read[id] = true
			}
		}
	case vocab.EventMessage.Type:
		var d event.Message
		if json.Unmarshal(ev.Data, &d) == nil {
			w.seen.inbound[d.MessageID] = true
		}
	}
}

// waitFor returns once done holds for what arrived, or an error naming
// what is missing when ctx ends first.
func (w *watcher) waitFor(ctx context.Context, done func(*tally) string) error {
	for {
		w.mu.Lock()
		missing, changed := done(&w.seen), w.changed
		w.mu.Unlock()
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still waiting for %s: %w", missing, ctx.Err())
		case <-changed:
		}
	}
}
