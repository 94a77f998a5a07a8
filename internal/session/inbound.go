package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/retry"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// inboundTimeout bounds one attempt at writing an inbound event to the
// outbox.
const inboundTimeout = 30 * time.Second

// InboundAttempts is how many times in a row an inbound event is offered
// to the outbox before the session gives up on the connection: WhatsApp
// delivers an unacknowledged message again only on the next login, so the
// session drops the connection and logs in again.
const InboundAttempts = 3

// inboundRetryDelay is the pause after the first failed attempt; it
// doubles after each further one (jittered).
const inboundRetryDelay = 250 * time.Millisecond

// storeMessage makes an inbound message durable: its media in the
// wa-inbound-media bucket, its event in the outbox. It reports whether the
// driver may acknowledge it. An attachment that can never be had (see
// wa.MediaError) is left out and named in the event's media_error.
func (m *Manager) storeMessage(h handler, msg wa.Message) (ok bool) {
	s := h.s
	defer m.recoverHandler(s, &ok)
	if m.testHookInbound != nil {
		m.testHookInbound(s.tenant)
	}
	data := msg.Data
	pending := msg.Media != nil
	return m.durably(h, vocab.EventMessage.Token, func(ctx context.Context) error {
		if pending {
			media, code, err := m.attachment(ctx, s, data.MessageID, msg.Media)
			if err != nil {
				return err
			}
			data.Media, data.MediaError, pending = media, code, false
		}
		id := event.StableID(s.tenant, vocab.EventMessage.Token, data.Chat, data.Sender, data.MessageID)
		return m.storeEvent(ctx, s, vocab.EventMessage, id, at(data.Timestamp), data)
	})
}

// durably runs store until it succeeds, at most InboundAttempts times with
// a growing pause, and reports whether it did. When every attempt failed
// it has the session drop the connection, so that WhatsApp delivers the
// event again on the next login; nothing else would make it.
func (m *Manager) durably(h handler, kind string, store func(context.Context) error) bool {
	s := h.s
	delay := inboundRetryDelay
	for attempt := 1; ; attempt++ {
		err := store(context.WithoutCancel(s.ctx))
		if err == nil {
			m.metrics.inbound.WithLabelValues(kind).Inc()
			return true
		}
		m.metrics.inboundFailures.WithLabelValues(kind).Inc()
		if attempt == InboundAttempts || !retry.Sleep(s.ctx, retry.Jitter(delay)) {
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
	id := event.StableID(h.s.tenant, vocab.EventReceipt.Token, d.Type, d.Chat, d.Sender, strings.Join(d.MessageIDs, ","))
	return m.durably(h, vocab.EventReceipt.Token, func(ctx context.Context) error {
		return m.storeEvent(ctx, h.s, vocab.EventReceipt, id, at(d.Timestamp), d)
	})
}

// storeEvent writes one event to the outbox and returns once it committed,
// within inboundTimeout.
func (m *Manager) storeEvent(ctx context.Context, s *Session, kind vocab.EventKind, id string, t time.Time, data any) error {
	ctx, cancel := context.WithTimeout(ctx, inboundTimeout)
	defer cancel()
	ev, err := event.New(s.tenant, kind, id, "", t, data)
	if err != nil {
		return fmt.Errorf("build %s event: %w", kind.Token, err)
	}
	msg, err := outbox.Event(m.deps.Names.Event(s.tenant, kind), ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", kind.Token, err)
	}
	if err := m.deps.Writer.Enqueue(ctx, msg); err != nil {
		return fmt.Errorf("store %s event: %w", kind.Token, err)
	}
	return nil
}

func at(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// attachment stores a message's attachment and returns its description,
// or the media_error code of one that can never be had: one WhatsApp
// refuses for good, or one whose download failed MediaAttempts times over
// the message's deliveries. Other failures are returned, to be retried.
func (m *Manager) attachment(ctx context.Context, s *Session, msgID string, in *wa.InboundMedia) (*event.Media, string, error) {
	key := s.tenant + "/" + msgID
	media, err := m.saveMedia(ctx, key, in)
	var merr *wa.MediaError
	var ferr *fetchError
	switch {
	case err == nil:
		m.mediaFailures.forget(key)
		return media, "", nil
	case errors.As(err, &merr):
		m.mediaFailures.forget(key)
		s.log.InfoContext(ctx, "inbound media left out of its message", slog.String("message_id", msgID),
			slog.String("media_error", merr.Code), slog.String("error", err.Error()))
		return nil, merr.Code, nil
	case errors.As(err, &ferr) && m.mediaFailures.add(key) >= MediaAttempts:
		m.mediaFailures.forget(key)
		s.log.WarnContext(ctx, "inbound media left out of its message after repeated download failures",
			slog.String("message_id", msgID), slog.String("error", err.Error()))
		return nil, event.MediaUnavailable, nil
	}
	return nil, "", err
}

// mediaTimeout bounds one download of an inbound attachment, and storing
// it in the bucket.
const mediaTimeout = 2 * time.Minute

// MediaAttempts is how many failed downloads of an attachment, over all
// deliveries of its message, give it up as unavailable.
const MediaAttempts = 3 * InboundAttempts

// fetchError is a transient failure to download an attachment (as opposed
// to one to store it, which is this worker's problem, not the message's).
type fetchError struct{ err error }

func (e *fetchError) Error() string { return "download media: " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// saveMedia downloads an attachment into a temporary file, so that it is
// never whole in memory, and streams it into the bucket as object name.
// It returns a *wa.MediaError for an attachment that can never be had, a
// *fetchError for a failed download, and other errors when storing failed.
func (m *Manager) saveMedia(ctx context.Context, name string, in *wa.InboundMedia) (*event.Media, error) {
	limit := m.cfg.InboundMediaMax
	if in.Size > limit {
		return nil, &wa.MediaError{Code: event.MediaTooLarge, Err: fmt.Errorf("declared size %d is over the limit of %d bytes", in.Size, limit)}
	}
	f, err := os.CreateTemp("", "wabus-inbound-media-")
	if err != nil {
		return nil, fmt.Errorf("create media file: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	size, err := download(ctx, in, f, limit)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	store, err := m.deps.JS.ObjectStore(ctx, m.deps.Names.InboundMediaBucket())
	if err != nil {
		return nil, fmt.Errorf("open inbound media bucket: %w", err)
	}
	sum := sha256.New()
	meta := jetstream.ObjectMeta{Name: name, Headers: map[string][]string{"Content-Type": {in.Mimetype}}}
	if _, err := store.Put(ctx, meta, io.TeeReader(f, sum)); err != nil {
		return nil, fmt.Errorf("store media: %w", err)
	}
	return &event.Media{
		Object: name, Mimetype: in.Mimetype, Filename: in.Filename,
		Size: size, SHA256: hex.EncodeToString(sum.Sum(nil)),
	}, nil
}

// download fetches in into f within mediaTimeout and leaves f at its
// start; it returns the attachment's size.
func download(ctx context.Context, in *wa.InboundMedia, f *os.File, limit int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, mediaTimeout)
	defer cancel()
	if err := fetch(ctx, in, f, limit); err != nil {
		var merr *wa.MediaError
		if errors.As(err, &merr) {
			return 0, err
		}
		return 0, &fetchError{err}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("measure media file: %w", err)
	}
	if size > limit {
		return 0, &wa.MediaError{Code: event.MediaTooLarge, Err: fmt.Errorf("%d bytes is over the limit of %d", size, limit)}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("rewind media file: %w", err)
	}
	return size, nil
}

// fetch runs the driver's download, streaming or in memory.
func fetch(ctx context.Context, in *wa.InboundMedia, f *os.File, limit int64) error {
	if in.DownloadTo != nil {
		return in.DownloadTo(ctx, f, limit)
	}
	data, err := in.Download(ctx)
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return &wa.MediaError{Code: event.MediaTooLarge, Err: fmt.Errorf("%d bytes is over the limit of %d", len(data), limit)}
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write media file: %w", err)
	}
	return nil
}

// failureCounts counts failures by key; the zero value is ready to use.
// It forgets everything past failureKeys keys, which only means more
// attempts for some.
type failureCounts struct {
	mu sync.Mutex
	n  map[string]int
}

const failureKeys = 4096

func (c *failureCounts) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil || len(c.n) >= failureKeys {
		c.n = map[string]int{}
	}
	c.n[key]++
	return c.n[key]
}

func (c *failureCounts) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.n, key)
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
