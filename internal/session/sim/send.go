package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// Delivered is what the simulator publishes on <p>.sim.<t>.delivered for
// every message that reaches simulated WhatsApp.
type Delivered struct {
	MessageID string          `json:"message_id"`
	To        string          `json:"to"`
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	JobID     string          `json:"job_id"`
	ReplyTo   string          `json:"reply_to,omitempty"`
	Media     *DeliveredMedia `json:"media,omitempty"`
	// The content object of a v2 kind, under its key.
	event.Contents
}

// DeliveredMedia describes the bytes a simulated recipient got, and what
// its phone shows beside them.
type DeliveredMedia struct {
	Mimetype string `json:"mimetype"`
	Filename string `json:"filename,omitempty"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	PTT      bool   `json:"ptt,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
	Seconds  int    `json:"seconds,omitempty"`
	// Waveform is a voice note's 64 points of 0-100.
	Waveform []int `json:"waveform,omitempty"`
	// Thumbnail is the JPEG thumbnail, base64.
	Thumbnail []byte `json:"thumbnail,omitempty"`
}

// Presence is what the simulator publishes on <p>.sim.<t>.presence when
// a job shows "typing…" before it is sent.
type Presence struct {
	To string `json:"to"`
	// State is "composing" or "recording" (before a voice note).
	State   string `json:"state"`
	Seconds int    `json:"seconds"`
}

// Send implements wa.Conn.
func (c *conn) Send(ctx context.Context, msg *wa.OutMessage) (*wa.SendResult, error) {
	if !c.IsConnected() {
		return nil, wa.ErrNotConnected
	}
	if c.d.takeFailure(c.tenant) {
		return nil, errors.New("sim: server error (fail-sends)")
	}
	user, server, _ := strings.Cut(msg.To, "@")
	if server == "s.whatsapp.net" && strings.HasPrefix(user, "999") {
		return nil, &wa.SendError{Code: event.CodeNotOnWhatsApp, Err: fmt.Errorf("%s is not on whatsapp", msg.To)}
	}
	var known contact
	if server == "s.whatsapp.net" {
		var err error
		if known, err = c.checkRecipient(ctx, user); err != nil {
			return nil, err
		}
	}
	if err := c.typing(ctx, msg); err != nil {
		return nil, err
	}
	if err := c.d.publish(c.tenant, "delivered", delivered(msg)); err != nil {
		return nil, fmt.Errorf("sim: deliver: %w", err)
	}
	if msg.Kind == vocab.ContentRead {
		return &wa.SendResult{Timestamp: time.Now(), ToJID: msg.To}, nil
	}
	toJID := msg.To
	if known.lid {
		toJID = ContactLID(user)
	}
	if server == "s.whatsapp.net" && !known.known {
		if err := c.d.recordContact(ctx, c.tenant, user, false); err != nil {
			// delivered all the same: failing now would send it twice
			c.d.log.Warn("sim contact not recorded", slog.String("error", err.Error()))
		}
	}
	c.queueReceipt(msg.ID, msg.To, known.lid)
	return &wa.SendResult{ID: msg.ID, Timestamp: time.Now(), ToJID: toJID}, nil
}

// delivered is the notice of what the recipient got.
func delivered(msg *wa.OutMessage) Delivered {
	d := Delivered{MessageID: msg.ID, To: msg.To, Type: msg.Kind, Text: msg.Text, JobID: msg.JobID, ReplyTo: msg.ReplyTo,
		Contents: msg.Contents}
	if msg.Kind == vocab.ContentRead {
		d.MessageID = ""
	}
	if vocab.IsMedia(msg.Kind) {
		sum := sha256.Sum256(msg.Media)
		d.Media = &DeliveredMedia{Mimetype: media.Mimetype(msg.Kind, msg.PTT, msg.Mimetype, msg.Media), Filename: msg.Filename,
			Size: len(msg.Media), SHA256: hex.EncodeToString(sum[:]), PTT: msg.PTT,
			Width: msg.Width, Height: msg.Height, Seconds: msg.Seconds, Thumbnail: msg.Thumbnail}
		for _, v := range msg.Waveform {
			d.Media.Waveform = append(d.Media.Waveform, int(v))
		}
	}
	return d
}

// typing publishes the presence notice of a job with Typing, then waits
// that long, as a person typing would.
func (c *conn) typing(ctx context.Context, msg *wa.OutMessage) error {
	if msg.Typing <= 0 {
		return nil
	}
	state := "composing"
	if msg.Kind == vocab.ContentAudio && msg.PTT {
		state = "recording"
	}
	p := Presence{To: msg.To, State: state, Seconds: int(msg.Typing / time.Second)}
	if err := c.d.publish(c.tenant, "presence", p); err != nil {
		return fmt.Errorf("sim: presence: %w", err)
	}
	t := time.NewTimer(msg.Typing)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("sim: typing: %w", ctx.Err())
	case <-c.stop:
		return wa.ErrNotConnected
	case <-t.C:
		return nil
	}
}

// Registered implements wa.Conn: numbers starting with 999 have no WhatsApp.
func (c *conn) Registered(ctx context.Context, phones []string) (map[string]string, error) {
	if !c.IsConnected() {
		return nil, wa.ErrNotConnected
	}
	out := make(map[string]string, len(phones))
	for _, p := range phones {
		if d, ok := digits(p); ok && !strings.HasPrefix(d, "999") {
			out[p] = d + "@s.whatsapp.net"
		}
	}
	return out, nil
}

type pendingReceipt struct {
	id, chat string
	lid      bool // the chat is LID-addressed
}

func (c *conn) queueReceipt(id, chat string, lid bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.receipt = append(c.receipt, pendingReceipt{id, chat, lid})
}

// receipts sends delivered then read receipts for what was sent, batched
// per chat every ReceiptDelay, as WhatsApp batches them.
func (c *conn) receipts() {
	t := time.NewTicker(c.d.cfg.ReceiptDelay)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		batch := c.receipt
		c.receipt = nil
		c.mu.Unlock()
		for chat, ids := range byChat(batch) {
			user, _, _ := strings.Cut(chat.chat, "@")
			senderLID, chatLID := identities(user, chat.lid)
			for _, typ := range []string{"delivered", "read"} {
				c.h.Handle(wa.Receipt{Data: event.Receipt{MessageIDs: ids, Chat: chat.chat, Sender: chat.chat,
					SenderLID: senderLID, ChatLID: chatLID, Type: typ, Timestamp: time.Now().UTC().Truncate(time.Second)}})
			}
		}
	}
}

// receiptChat is a chat receipts are batched by.
type receiptChat struct {
	chat string
	lid  bool
}

func byChat(batch []pendingReceipt) map[receiptChat][]string {
	out := map[receiptChat][]string{}
	for _, r := range batch {
		k := receiptChat{r.chat, r.lid}
		out[k] = append(out[k], r.id)
	}
	return out
}

// maxFailSends bounds a fail-sends request.
const maxFailSends = 1000

// setFailSends makes the tenant's next sends fail with a transient error:
// body {"count": n}, 1 <= n <= 1000.
func (d *Driver) setFailSends(tenant string, body []byte) error {
	var req struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Count < 1 || req.Count > maxFailSends {
		return &ctlError{"invalid_request", fmt.Sprintf(`body must be {"count": n} with 1 <= n <= %d`, maxFailSends)}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails[tenant] = req.Count
	return nil
}

// takeFailure reports whether this send of tenant is to fail (fail-sends).
func (d *Driver) takeFailure(tenant string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fails[tenant] == 0 {
		return false
	}
	d.fails[tenant]--
	if d.fails[tenant] == 0 {
		delete(d.fails, tenant)
	}
	return true
}
