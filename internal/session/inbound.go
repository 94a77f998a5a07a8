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
	"github.com/wabus/wabus/internal/session/wa"
)

// inboundTimeout bounds storing one inbound event; past it WhatsApp gets no
// ack and delivers the message again.
const inboundTimeout = 30 * time.Second

// storeMessage makes an inbound message durable: its media in the
// wa-inbound-media bucket, its event in the outbox. It reports whether the
// driver may acknowledge it.
func (m *Manager) storeMessage(s *Session, msg wa.Message) (ok bool) {
	defer m.recoverHandler(s, &ok)
	if m.testHookInbound != nil {
		m.testHookInbound(s.tenant)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), inboundTimeout)
	defer cancel()
	data := msg.Data
	if msg.Media != nil {
		media, err := m.saveMedia(ctx, s.tenant, data.MessageID, msg.Media)
		if err != nil {
			s.log.WarnContext(ctx, "inbound media not stored; whatsapp will redeliver", slog.String("error", err.Error()))
			return false
		}
		data.Media = media
	}
	id := event.StableID(s.tenant, bus.KindMessage, data.Chat, data.Sender, data.MessageID)
	return m.storeEvent(ctx, s, bus.KindMessage, event.TypeMessage, id, at(data.Timestamp), data)
}

// storeReceipt makes a receipt durable as a receipt event.
func (m *Manager) storeReceipt(s *Session, r wa.Receipt) (ok bool) {
	defer m.recoverHandler(s, &ok)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), inboundTimeout)
	defer cancel()
	d := r.Data
	id := event.StableID(s.tenant, bus.KindReceipt, d.Type, d.Chat, d.Sender, strings.Join(d.MessageIDs, ","))
	return m.storeEvent(ctx, s, bus.KindReceipt, event.TypeReceipt, id, at(d.Timestamp), d)
}

func (m *Manager) storeEvent(ctx context.Context, s *Session, kind, typ, id string, t time.Time, data any) bool {
	ev, err := event.New(s.tenant, typ, id, "", t, data)
	if err != nil {
		s.log.ErrorContext(ctx, "build event", slog.String("error", err.Error()))
		return false
	}
	msg, err := outbox.Event(m.deps.Names.Event(s.tenant, kind), ev)
	if err != nil {
		s.log.ErrorContext(ctx, "encode event", slog.String("error", err.Error()))
		return false
	}
	if err := m.deps.Writer.Enqueue(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "inbound event not stored; whatsapp will redeliver", slog.String("kind", kind), slog.String("error", err.Error()))
		return false
	}
	m.metrics.inbound.WithLabelValues(kind).Inc()
	return true
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
