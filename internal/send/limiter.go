package send

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket: rate tokens a minute, up to burst. A zero rate
// means no limit.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(perMinute float64, burst int) *limiter {
	b := float64(max(burst, 1))
	return &limiter{rate: perMinute / 60, burst: b, tokens: b, last: time.Now()}
}

// is reports whether l was made with perMinute and burst.
func (l *limiter) is(perMinute float64, burst int) bool {
	return l.rate == perMinute/60 && l.burst == float64(max(burst, 1))
}

// reserve takes a token and returns how long to wait before using it.
func (l *limiter) reserve(now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return 0
	}
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// wait blocks until a token is available or ctx ends.
func (l *limiter) wait(ctx context.Context) error {
	d := l.reserve(time.Now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
