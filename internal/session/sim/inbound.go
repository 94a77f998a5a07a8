package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// inbound is a message a contact sent, held by the simulated server until
// a worker acknowledges it.
type inbound struct {
	ID       string    `json:"id"`
	From     string    `json:"from"`
	Text     string    `json:"text"`
	PushName string    `json:"push_name"`
	LID      bool      `json:"lid"` // the contact writes from a LID-addressed chat
	At       time.Time `json:"-"`
	sender   string
	// kind is the content kind; content the job-shaped JSON of its object
	// (see content.go), nil for text.
	kind    string
	content []byte
}

// maxPushName bounds an inbound message's push_name.
const maxPushName = 256

const insertInbound = `INSERT INTO wabus_sim_inbound (tenant, id, sender, text, push_name, lid, kind, content)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (tenant, id) DO NOTHING`

// inbound accepts a message from a contact. It is stored in Postgres, the
// simulated server's state, and delivered to the connection, now or when
// the tenant connects. While Postgres is down, the worker holding the
// tenant's live connection keeps it in memory (the simulated server runs
// inside the worker: a crash of that worker before Postgres is back loses
// it, as the real server never would); any other worker refuses it with
// code unavailable and the sender tries again.
func (d *Driver) inbound(ctx context.Context, tenant string, body []byte) error {
	var in inbound
	if err := json.Unmarshal(body, &in); err != nil {
		return &ctlError{"invalid_request", "body must be {\"from\", \"text\", \"id\"}"}
	}
	phone, ok := digits(in.From)
	if !ok {
		return &ctlError{"invalid_request", "from must be a phone number of 8-15 digits"}
	}
	if in.ID == "" {
		in.ID = "SIM" + randomHex(8)
	}
	if len(in.ID) > 128 {
		return &ctlError{"invalid_request", "id is longer than 128 characters"}
	}
	if len(in.PushName) > maxPushName {
		return &ctlError{"invalid_request", fmt.Sprintf("push_name is longer than %d bytes", maxPushName)}
	}
	in.sender = phone + "@s.whatsapp.net"
	in.At = time.Now()
	if err := in.parseContent(body); err != nil {
		return err
	}
	// a request being answered while the worker shuts down is still stored
	store, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	c := d.conn(tenant)
	if err := d.recordContact(store, tenant, phone, in.LID); err != nil {
		d.log.Warn("sim contact not recorded", slog.String("error", err.Error()))
	}
	if _, err := d.pool.Exec(store, insertInbound, in.args(tenant)...); err != nil {
		if c == nil || !c.isUp() {
			return &ctlError{"unavailable", "the simulated server cannot store the message now; send it again: " + err.Error()}
		}
		d.log.Warn("sim inbound kept in memory until postgres is back", slog.String("error", err.Error()))
		d.mu.Lock()
		d.pending[tenant] = append(d.pending[tenant], &in)
		d.mu.Unlock()
	}
	// whichever worker holds the live connection delivers it now (this
	// one may be about to lose the tenant)
	if err := d.nc.Publish(d.cfg.Names.Sim(tenant, "wake"), nil); err != nil && c != nil {
		c.poke()
	}
	return nil
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver hands pending inbound messages to the client until the
// connection ends; an unacknowledged one comes again after RetryDelay.
func (c *conn) deliver() {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-retry.C:
		}
		if !c.deliverPending() {
			retry.Reset(c.d.cfg.RetryDelay)
		}
	}
}

const selectInbound = `SELECT id, sender, text, push_name, lid, kind, content, created_at FROM wabus_sim_inbound
WHERE tenant = $1 ORDER BY created_at, id LIMIT 200`

const deleteInbound = `DELETE FROM wabus_sim_inbound WHERE tenant = $1 AND id = $2`

// deliverPending reports whether everything pending was acknowledged.
func (c *conn) deliverPending() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all := c.d.persistPending(ctx, c.tenant)
	stored, err := c.loadInbound(ctx)
	if err != nil {
		all = false
	}
	for _, in := range append(c.d.memory(c.tenant), stored...) {
		if !c.isUp() {
			return true
		}
		if !c.h.Handle(in.message()) {
			return false
		}
		c.d.acked(ctx, c.tenant, in)
	}
	return all && len(stored) < 200
}

func (c *conn) loadInbound(ctx context.Context) ([]*inbound, error) {
	rows, err := c.d.pool.Query(ctx, selectInbound, c.tenant)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*inbound, error) {
		in := &inbound{}
		err := r.Scan(&in.ID, &in.sender, &in.Text, &in.PushName, &in.LID, &in.kind, &in.content, &in.At)
		return in, err
	})
}

// event is the message as the client reports it, before its content. A
// LID-addressed contact is still named by phone number, with its LID
// beside (the simulated client's LID map always knows it).
func (in *inbound) event() event.Message {
	user, _, _ := strings.Cut(in.sender, "@")
	senderLID, chatLID := identities(user, in.LID)
	return event.Message{
		MessageID: in.ID, Chat: in.sender, Sender: in.sender, SenderLID: senderLID, ChatLID: chatLID,
		PushName: in.PushName, Timestamp: in.At.UTC().Truncate(time.Second), Type: "text", Text: in.Text,
	}
}

// args are insertInbound's arguments.
func (in *inbound) args(tenant string) []any {
	kind := cmp.Or(in.kind, vocab.ContentText)
	var content any // NULL, not a JSON null, for text
	if in.content != nil {
		content = in.content
	}
	return []any{tenant, in.ID, in.sender, in.Text, in.PushName, in.LID, kind, content}
}

// memory returns the messages accepted while Postgres was down.
func (d *Driver) memory(tenant string) []*inbound {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*inbound(nil), d.pending[tenant]...)
}

// acked forgets an acknowledged message, in memory and in Postgres.
func (d *Driver) acked(ctx context.Context, tenant string, in *inbound) {
	d.forget(tenant, in.ID)
	if _, err := d.pool.Exec(ctx, deleteInbound, tenant, in.ID); err != nil {
		d.log.Warn("sim inbound ack not recorded; it may come again", slog.String("error", err.Error()))
	}
}

// persistPending moves messages held in memory into Postgres; it reports
// whether none is left in memory.
func (d *Driver) persistPending(ctx context.Context, tenant string) bool {
	for _, in := range d.memory(tenant) {
		if _, err := d.pool.Exec(ctx, insertInbound, in.args(tenant)...); err != nil {
			return false
		}
		d.forget(tenant, in.ID)
	}
	return true
}

// forget drops a message from the in-memory list.
func (d *Driver) forget(tenant, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	list := d.pending[tenant]
	for i, p := range list {
		if p.ID == id {
			d.pending[tenant] = append(list[:i:i], list[i+1:]...)
			return
		}
	}
}
