package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/session/wa"
)

func (d *Driver) register(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns[c.tenant] = c
}

func (d *Driver) unregister(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns[c.tenant] == c {
		delete(d.conns, c.tenant)
	}
}

const deleteConn = `DELETE FROM wabus_sim_conn WHERE tenant = $1 AND conn_id = $2`

// closeConn removes a connection from the server and announces it, unless
// a newer connection already replaced it (then it was announced then).
func (d *Driver) closeConn(tenant, id, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	tag, err := d.pool.Exec(ctx, deleteConn, tenant, id)
	if err == nil && tag.RowsAffected() == 0 {
		return // replaced: the new connection announced our end
	}
	if err := d.publish(tenant, "disconnected", map[string]string{"worker": d.cfg.WorkerID, "conn_id": id, "reason": reason}); err != nil {
		d.log.Warn("publish sim disconnected", slog.String("error", err.Error()))
	}
}

type kick struct {
	ConnID string `json:"conn_id"`
}

// kickOld announces that an older connection (maybe of a dead worker) was
// replaced, and tells its worker if it is alive.
func (d *Driver) kickOld(tenant, worker, connID string) {
	_ = d.publish(tenant, "disconnected", map[string]string{"worker": worker, "conn_id": connID, "reason": "replaced"})
	_ = d.publish(tenant, "kick", kick{ConnID: connID})
}

// onKick: our connection was replaced by a newer one elsewhere.
func (d *Driver) onKick(msg *nats.Msg) {
	var k kick
	if json.Unmarshal(msg.Data, &k) != nil {
		return
	}
	tenant := d.cfg.Names.Token(msg.Subject, 1)
	c := d.conn(tenant)
	if c == nil {
		return
	}
	c.mu.Lock()
	mine := c.up && c.id == k.ConnID
	c.mu.Unlock()
	if mine && c.close("replaced") {
		c.h.Handle(wa.StreamReplaced{})
	}
}

// onWake: an inbound message was stored for the tenant, maybe by another
// worker; the live connection, if it is here, delivers it.
func (d *Driver) onWake(msg *nats.Msg) {
	if c := d.conn(d.cfg.Names.Token(msg.Subject, 1)); c != nil {
		c.poke()
	}
}

// digits normalizes a phone number to its digits (8-15 of them).
func digits(phone string) (string, bool) {
	p := strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if len(p) < 8 || len(p) > 15 {
		return "", false
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return p, true
}

// hashDigits derives n stable decimal digits from s.
func hashDigits(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	v := binary.BigEndian.Uint64(sum[:8])
	return fmt.Sprintf("%0*d", n, v%pow10(n))
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
