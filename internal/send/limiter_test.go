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

// A claim takes as many jobs as there are tokens now (all of them without
// a limit), so that every claimed job is sent at once.
func TestAvailableCountsTokensAClaimMayTake(t *testing.T) {
	t.Parallel()
	l := newLimiter(6, 3) // one every 10s, three at once
	if n := l.available(); n != 3 {
		t.Fatalf("a full bucket of 3 has %d available", n)
	}
	l.take()
	l.take()
	if n := l.available(); n != 1 {
		t.Fatalf("%d available after taking 2 of 3", n)
	}
	l.refund()
	if n := l.available(); n != 2 {
		t.Fatalf("%d available after a refund", n)
	}
	if !l.is(l.perMinute(), l.burstSize()) || !l.is(6, 3) {
		t.Fatal("a limiter does not know what it was made with")
	}
	if n := newLimiter(0, 1).available(); n < 1000 {
		t.Fatalf("no limit has only %d available", n)
	}
}
