package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	d := Delivered{MessageID: msg.ID, To: msg.To, Type: msg.Kind, Text: msg.Text, JobID: msg.JobID, ReplyTo: msg.ReplyTo}
	if msg.Kind != wa.KindText {
		sum := sha256.Sum256(msg.Media)
		d.Media = &DeliveredMedia{Mimetype: msg.Mimetype, Filename: msg.Filename, Size: len(msg.Media), SHA256: hex.EncodeToString(sum[:]), PTT: msg.PTT}
	}
	if err := c.d.publish(c.tenant, "delivered", d); err != nil {
		return nil, fmt.Errorf("sim: deliver: %w", err)
	}
	c.queueReceipt(msg.ID, msg.To)
	return &wa.SendResult{ID: msg.ID, Timestamp: time.Now()}, nil
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

type pendingReceipt struct{ id, chat string }

func (c *conn) queueReceipt(id, chat string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.receipt = append(c.receipt, pendingReceipt{id, chat})
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
			for _, typ := range []string{"delivered", "read"} {
				c.h.Handle(wa.Receipt{Data: event.Receipt{MessageIDs: ids, Chat: chat, Sender: chat, Type: typ, Timestamp: time.Now().UTC().Truncate(time.Second)}})
			}
		}
	}
}

func byChat(batch []pendingReceipt) map[string][]string {
	out := map[string][]string{}
	for _, r := range batch {
		out[r.chat] = append(out[r.chat], r.id)
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
