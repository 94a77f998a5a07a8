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
	"github.com/wabus/wabus/internal/session/wa"
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
}

// DeliveredMedia describes the bytes a simulated recipient got.
type DeliveredMedia struct {
	Mimetype string `json:"mimetype"`
	Filename string `json:"filename,omitempty"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	PTT      bool   `json:"ptt,omitempty"`
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
	d := Delivered{MessageID: msg.ID, To: msg.To, Type: msg.Kind, Text: msg.Text, JobID: msg.JobID, ReplyTo: msg.ReplyTo}
	if msg.Kind != wa.KindText {
		sum := sha256.Sum256(msg.Media)
		d.Media = &DeliveredMedia{Mimetype: msg.Mimetype, Filename: msg.Filename, Size: len(msg.Media), SHA256: hex.EncodeToString(sum[:]), PTT: msg.PTT}
	}
	if err := c.d.publish(c.tenant, "delivered", d); err != nil {
		return nil, fmt.Errorf("sim: deliver: %w", err)
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
