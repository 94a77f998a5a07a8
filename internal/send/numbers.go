package send

import (
	"context"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/session/wa"
)

// numberCache remembers which phone numbers are on WhatsApp, so each is
// looked up once per TTL.
type numberCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cached
}

type cached struct {
	jid string // "" when not on WhatsApp
	at  time.Time
}

func newNumberCache(ttl time.Duration) *numberCache {
	return &numberCache{ttl: ttl, m: map[string]cached{}}
}

// lookup returns phone's JID, or "" when it has no WhatsApp.
func (c *numberCache) lookup(ctx context.Context, conn wa.Conn, phone string) (string, error) {
	c.mu.Lock()
	e, ok := c.m[phone]
	c.mu.Unlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.jid, nil
	}
	found, err := conn.Registered(ctx, []string{phone})
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100_000 {
		clear(c.m)
	}
	c.m[phone] = cached{jid: found[phone], at: time.Now()}
	return found[phone], nil
}
