package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session/wa"
)

// inboundTimeout bounds one attempt at storing an inbound event.
const inboundTimeout = 30 * time.Second

// inboundAttempts is how many times in a row an inbound event is offered
// to the outbox before the session gives up on the connection: WhatsApp
// delivers an unacknowledged message again only on the next login, so the
// session drops the connection and logs in again.
const inboundAttempts = 3

// inboundRetryDelay is the pause after the first failed attempt; it
// doubles after each further one (jittered).
const inboundRetryDelay = 250 * time.Millisecond

// storeMessage makes an inbound message durable: its media in the
// wa-inbound-media bucket, its event in the outbox. It reports whether the
// driver may acknowledge it.
func (m *Manager) storeMessage(h handler, msg wa.Message) (ok bool) {
	s := h.s
	defer m.recoverHandler(s, &ok)
	if m.testHookInbound != nil {
		m.testHookInbound(s.tenant)
	}
	data := msg.Data
	return m.durably(h, bus.KindMessage, func(ctx context.Context) error {
		if msg.Media != nil && data.Media == nil {
			media, err := m.saveMedia(ctx, s.tenant, data.MessageID, msg.Media)
			if err != nil {
				return err
			}
			data.Media = media
		}
		id := event.StableID(s.tenant, bus.KindMessage, data.Chat, data.Sender, data.MessageID)
		return m.storeEvent(ctx, s, bus.KindMessage, event.TypeMessage, id, at(data.Timestamp), data)
	})
}

// durably runs store until it succeeds, at most inboundAttempts times with
// a growing pause, and reports whether it did. When every attempt failed
// it has the session drop the connection, so that WhatsApp delivers the
// event again on the next login; nothing else would make it.
func (m *Manager) durably(h handler, kind string, store func(context.Context) error) bool {
	s := h.s
	delay := inboundRetryDelay
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), inboundTimeout)
		err := store(ctx)
		cancel()
		if err == nil {
			m.metrics.inbound.WithLabelValues(kind).Inc()
			return true
		}
		m.metrics.inboundFailures.WithLabelValues(kind).Inc()
		if attempt == inboundAttempts || !retry.Sleep(s.ctx, retry.Jitter(delay)) {
			s.log.Warn("inbound event not stored; the connection is dropped so that whatsapp delivers it again",
				slog.String("kind", kind), slog.Int("attempts", attempt), slog.String("error", err.Error()))
			h.redeliver(kind)
			return false
		}
		delay *= 2
	}
}

// redeliver has the session drop this handler's connection and log in
// again, as after a network failure.
func (h handler) redeliver(kind string) {
	ev := wa.Disconnected{Reason: "inbound " + kind + " not stored; whatsapp delivers it again on the next login"}
	select {
	case h.s.events <- connEvent{h.gen, ev}:
	case <-h.s.ctx.Done():
	}
}

// storeReceipt makes a receipt durable as a receipt event.
func (m *Manager) storeReceipt(h handler, r wa.Receipt) (ok bool) {
	defer m.recoverHandler(h.s, &ok)
	d := r.Data
	id := event.StableID(h.s.tenant, bus.KindReceipt, d.Type, d.Chat, d.Sender, strings.Join(d.MessageIDs, ","))
	return m.durably(h, bus.KindReceipt, func(ctx context.Context) error {
		return m.storeEvent(ctx, h.s, bus.KindReceipt, event.TypeReceipt, id, at(d.Timestamp), d)
	})
}

// storeEvent writes one event to the outbox and returns once it committed.
func (m *Manager) storeEvent(ctx context.Context, s *Session, kind, typ, id string, t time.Time, data any) error {
	ev, err := event.New(s.tenant, typ, id, "", t, data)
	if err != nil {
		return fmt.Errorf("build %s event: %w", kind, err)
	}
	msg, err := outbox.Event(m.deps.Names.Event(s.tenant, kind), ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", kind, err)
	}
	if err := m.deps.Writer.Enqueue(ctx, msg); err != nil {
		return fmt.Errorf("store %s event: %w", kind, err)
	}
	return nil
}

func at(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// saveMedia downloads an attachment and stores it under tenant/message id.
func (m *Manager) saveMedia(ctx context.Context, tenant, msgID string, in *wa.InboundMedia) (*event.Media, error) {
	data, err := in.Download(ctx)
	if err != nil {
		return nil, fmt.Errorf("download media: %w", err)
	}
	store, err := m.deps.JS.ObjectStore(ctx, m.deps.Names.InboundMediaBucket())
	if err != nil {
		return nil, fmt.Errorf("open inbound media bucket: %w", err)
	}
	name := tenant + "/" + msgID
	meta := jetstream.ObjectMeta{Name: name, Headers: map[string][]string{"Content-Type": {in.Mimetype}}}
	if _, err := store.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("store media: %w", err)
	}
	sum := sha256.Sum256(data)
	return &event.Media{
		Object: name, Mimetype: in.Mimetype, Filename: in.Filename,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
	}, nil
}

// recoverHandler turns a panic in an event handler into a logged, counted
// failure (the event is not acknowledged and comes again).
func (m *Manager) recoverHandler(s *Session, ok *bool) {
	if r := recover(); r != nil {
		m.metrics.panics.Inc()
		s.log.Error("event handler panic recovered", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		*ok = false
	}
}
