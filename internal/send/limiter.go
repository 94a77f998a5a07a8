package send

import (
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

// perMinute and burstSize are what l was made with.
func (l *limiter) perMinute() float64 { return l.rate * 60 }
func (l *limiter) burstSize() int     { return int(l.burst) }

// available returns how many whole tokens could be taken now without
// waiting (a large number when there is no limit).
func (l *limiter) available() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return 1 << 20
	}
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	return max(int(l.tokens), 0)
}

// take takes a token without waiting (one that available counted).
func (l *limiter) take() { l.reserve(time.Now()) }

// refund gives back a token taken for a job that was not there.
func (l *limiter) refund() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate > 0 {
		l.tokens = min(l.burst, l.tokens+1)
	}
}
