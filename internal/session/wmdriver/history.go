package wmdriver

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
)

// History sync. After pairing (and now and then later) the phone uploads
// chat history and announces each blob with a HistorySyncNotification.
// whatsmeow's own handling downloads a blob into memory, decompresses it
// whole and parses it whole (several times the blob's size at once, for
// every tenant that pairs), and then stores the few things sends need.
// The driver sets ManualHistorySyncDownload instead (whatsmeow still
// acknowledges the notification) and handles the blobs itself, one at a
// time per conn: it downloads a blob to a temporary file, streams it
// through zlib and readHistory, and stores the tctokens, the LID map and
// the NCT salt as whatsmeow would. Messages, push names and settings are
// not kept: wabus does not report history.

const (
	// maxPendingHistory bounds the notifications queued on a conn;
	// more are dropped (WhatsApp sends a handful after pairing).
	maxPendingHistory = 64
	// historyBatch is how many rows one store call writes.
	historyBatch = 500
)

// historyQueue runs a conn's history syncs one at a time on a goroutine
// that stop waits for.
type historyQueue struct {
	mu      sync.Mutex
	pending []*waE2E.HistorySyncNotification
	ctx     context.Context // of the syncs queued since the last stop
	cancel  context.CancelFunc
	done    chan struct{} // closed when the running goroutine returns; nil when none runs
	run     func(context.Context, *waE2E.HistorySyncNotification)
}

// add queues n; false when the queue is full.
func (q *historyQueue) add(n *waE2E.HistorySyncNotification) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) >= maxPendingHistory {
		return false
	}
	if q.ctx == nil {
		q.ctx, q.cancel = context.WithCancel(context.Background())
	}
	q.pending = append(q.pending, n)
	if q.done == nil {
		q.startLocked()
	}
	return true
}

func (q *historyQueue) startLocked() {
	ctx, done := q.ctx, make(chan struct{})
	q.done = done
	go q.loop(ctx, done)
}

func (q *historyQueue) loop(ctx context.Context, done chan struct{}) {
	for {
		q.mu.Lock()
		if ctx.Err() != nil || len(q.pending) == 0 {
			close(done)
			q.done = nil
			if len(q.pending) > 0 && q.ctx != nil {
				q.startLocked() // queued for a later socket, after a stop
			}
			q.mu.Unlock()
			return
		}
		n := q.pending[0]
		q.pending = q.pending[1:]
		q.mu.Unlock()
		q.run(ctx, n)
	}
}

// stop cancels the sync in progress, drops the queued ones and waits
// until the goroutine has returned.
func (q *historyQueue) stop() {
	q.mu.Lock()
	if q.cancel != nil {
		q.cancel()
	}
	q.ctx, q.cancel, q.pending = nil, nil, nil
	done := q.done
	q.mu.Unlock()
	if done != nil {
		<-done
	}
}

// onHistory is an event handler that queues the history sync
// notifications from the account's own phone.
func (c *conn) onHistory(raw any) {
	e, ok := raw.(*events.Message)
	if !ok || !e.Info.IsFromMe {
		return
	}
	n := e.Message.GetProtocolMessage().GetHistorySyncNotification()
	if n != nil && !c.history.add(n) {
		c.log.Warn("history sync dropped: too many queued", slog.String("sync_type", n.GetSyncType().String()))
	}
}

// syncHistory handles one notification and deletes its blob from
// WhatsApp's servers once it was read, as whatsmeow does.
func (c *conn) syncHistory(ctx context.Context, n *waE2E.HistorySyncNotification) {
	start := time.Now()
	st, err := c.storeHistory(ctx, n)
	if ctx.Err() != nil {
		return
	}
	log := c.log.With(slog.String("sync_type", n.GetSyncType().String()), slog.Uint64("blob_bytes", n.GetFileLength()))
	if err != nil {
		log.Warn("history sync not stored", slog.String("error", err.Error()))
		return
	}
	log.Info("history sync stored", slog.Int("tctokens", st.tokens), slog.Int("lid_mappings", st.mappings),
		slog.Duration("took", time.Since(start)))
	if n.GetDirectPath() == "" {
		return
	}
	if err := c.client.DeleteMedia(ctx, whatsmeow.MediaHistory, n.GetDirectPath(), n.GetFileEncSHA256(), n.GetEncHandle()); err != nil {
		log.Debug("delete history sync blob", slog.String("error", err.Error()))
	}
}

// storeHistory reads the notification's blob and stores what it keeps.
func (c *conn) storeHistory(ctx context.Context, n *waE2E.HistorySyncNotification) (historyStats, error) {
	blob, closeBlob, err := c.openHistory(ctx, n)
	if err != nil {
		return historyStats{}, err
	}
	defer closeBlob()
	zr, err := zlib.NewReader(blob)
	if err != nil {
		return historyStats{}, fmt.Errorf("decompress history sync: %w", err)
	}
	defer zr.Close()
	sink := &historyStore{ctx: ctx, dev: c.dev}
	if err := readHistory(zr, sink); err != nil {
		return sink.stats, fmt.Errorf("read history sync: %w", err)
	}
	return sink.stats, sink.finish()
}

// openHistory returns the compressed blob: inline in the notification, or
// downloaded to a temporary file, which is already unlinked (closing it
// frees the disk space). It returns an error for a blob over
// Config.HistoryMaxBytes.
func (c *conn) openHistory(ctx context.Context, n *waE2E.HistorySyncNotification) (io.Reader, func(), error) {
	if inline := n.GetInitialHistBootstrapInlinePayload(); inline != nil {
		return bytes.NewReader(inline), func() {}, nil
	}
	if size := n.GetFileLength(); size > uint64(c.cfg.HistoryMaxBytes) {
		return nil, nil, fmt.Errorf("%w: %d bytes, over the limit of %d", errHistoryTooLarge, size, c.cfg.HistoryMaxBytes)
	}
	f, err := os.CreateTemp("", "wabus-history-*")
	if err != nil {
		return nil, nil, fmt.Errorf("create history sync file: %w", err)
	}
	_ = os.Remove(f.Name())
	if err := c.client.DownloadToFile(ctx, n, f); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("download history sync: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("rewind history sync file: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}

// historyStats counts what a history sync stored.
type historyStats struct{ tokens, mappings int }

// historyStore is the historySink that writes to the device store. LID
// mappings are written as they come; tctokens of chats addressed by phone
// number are stored under the contact's LID, so they are written last,
// once every mapping of the blob is in (whatsmeow does the same).
type historyStore struct {
	ctx      context.Context
	dev      *store.Device
	mappings []store.LIDMapping
	convs    []*waHistorySync.Conversation
	stats    historyStats
}

func (h *historyStore) conversation(c *waHistorySync.Conversation) error {
	h.convs = append(h.convs, c)
	return nil
}

func (h *historyStore) lidMapping(m *waHistorySync.PhoneNumberToLIDMapping) error {
	pn, err1 := types.ParseJID(m.GetPnJID())
	lid, err2 := types.ParseJID(m.GetLidJID())
	if err1 != nil || err2 != nil || pn.IsEmpty() || lid.Server != types.HiddenUserServer {
		return nil
	}
	if pn.Server == types.LegacyUserServer {
		pn.Server = types.DefaultUserServer
	}
	h.mappings = append(h.mappings, store.LIDMapping{LID: lid, PN: pn})
	if len(h.mappings) >= historyBatch {
		return h.flushMappings()
	}
	return nil
}

func (h *historyStore) flushMappings() error {
	if len(h.mappings) == 0 {
		return nil
	}
	if err := h.dev.LIDs.PutManyLIDMappings(h.ctx, h.mappings); err != nil {
		return fmt.Errorf("store lid mappings: %w", err)
	}
	h.stats.mappings += len(h.mappings)
	h.mappings = h.mappings[:0]
	return nil
}

func (h *historyStore) nctSalt(salt []byte) error {
	if err := h.dev.NCTSalt.PutNCTSalt(h.ctx, salt); err != nil {
		return fmt.Errorf("store nct salt: %w", err)
	}
	return nil
}

// finish writes the remaining mappings, then the tctokens.
func (h *historyStore) finish() error {
	if err := h.flushMappings(); err != nil {
		return err
	}
	tokens := make([]store.PrivacyToken, 0, min(len(h.convs), historyBatch))
	for i, c := range h.convs {
		if tok, ok := h.privacyToken(c); ok {
			tokens = append(tokens, tok)
		}
		if len(tokens) == historyBatch || (i == len(h.convs)-1 && len(tokens) > 0) {
			if err := h.dev.PrivacyTokens.PutPrivacyTokens(h.ctx, tokens...); err != nil {
				return fmt.Errorf("store tctokens: %w", err)
			}
			h.stats.tokens += len(tokens)
			tokens = tokens[:0]
		}
	}
	h.convs = nil
	return nil
}

// privacyToken is a 1:1 chat's tctoken, under the contact's LID when the
// chat is addressed by phone number and the LID is known (as whatsmeow
// stores them); group chats carry none.
func (h *historyStore) privacyToken(c *waHistorySync.Conversation) (store.PrivacyToken, bool) {
	chat, err := types.ParseJID(c.GetID())
	if err != nil {
		return store.PrivacyToken{}, false
	}
	user := chat
	switch chat.Server {
	case types.HiddenUserServer:
	case types.DefaultUserServer:
		if lid, err := h.dev.LIDs.GetLIDForPN(h.ctx, chat); err == nil && !lid.IsEmpty() {
			user = lid
		}
	default:
		return store.PrivacyToken{}, false
	}
	return store.PrivacyToken{
		User: user, Token: c.GetTcToken(),
		Timestamp:       time.Unix(int64(c.GetTcTokenTimestamp()), 0),
		SenderTimestamp: time.Unix(int64(c.GetTcTokenSenderTimestamp()), 0),
	}, true
}

var _ historySink = (*historyStore)(nil)
