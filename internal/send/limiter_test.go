package send

import (
	"testing"
	"time"
)

func TestLimiterIsATokenBucket(t *testing.T) {
	t.Parallel()
	l := newLimiter(60, 2) // one a second, two at once
	t0 := l.last
	for i, c := range []struct {
		at   time.Duration
		wait time.Duration
	}{
		{0, 0},           // burst
		{0, 0},           // burst
		{0, time.Second}, // the third waits for a token
		{1500 * time.Millisecond, 500 * time.Millisecond}, // 1.5 tokens back, 2 taken
		{10 * time.Second, 0},                             // refilled, up to the burst only
		{10 * time.Second, 0},
		{10 * time.Second, time.Second},
	} {
		if got := l.reserve(t0.Add(c.at)); got != c.wait {
			t.Fatalf("reservation %d at %s: wait %s, want %s", i, c.at, got, c.wait)
		}
	}
	if !l.is(60, 2) || l.is(60, 3) || l.is(30, 2) {
		t.Fatal("is does not tell the limiter's own settings")
	}
	free := newLimiter(0, 1)
	for range 100 {
		if d := free.reserve(time.Now()); d != 0 {
			t.Fatalf("a zero rate waited %s", d)
		}
	}
}

func TestWindowKeepsFetchedJobsWithinHalfTheAckWait(t *testing.T) {
	t.Parallel()
	c := Config{AckWait: 60 * time.Second}.withDefaults()
	for _, w := range []struct {
		rate float64
		want int
	}{
		{0, 32},    // no limit: the whole window
		{6, 3},     // 0.1/s × 30s
		{20, 10},   // the default limit
		{0.5, 1},   // at least one
		{6000, 32}, // at most the window
	} {
		if got := c.window(w.rate); got != w.want {
			t.Errorf("window(%v) = %d, want %d", w.rate, got, w.want)
		}
	}
}
