// Package retry has the waiting that retry loops share: a context-aware
// sleep and an exponential backoff with jitter.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d or until ctx ends; it reports whether the full d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Jitter returns a random duration between d/2 and d, so that many
// waiters started together do not retry in step.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// Backoff doubles a delay from Min up to Max, each one jittered. The zero
// value is not useful: set Min and Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the next delay.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.Min
	} else {
		b.cur = min(b.cur*2, b.Max)
	}
	return Jitter(b.cur)
}

// Reset starts again from Min.
func (b *Backoff) Reset() { b.cur = 0 }
