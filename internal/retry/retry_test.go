package retry

import (
	"context"
	"testing"
	"time"
)

func TestBackoffDoublesWithinJitterUpToMax(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	for i, ms := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		base := ms * time.Millisecond
		if d := b.Next(); d < base/2 || d > base {
			t.Fatalf("delay %d = %s, want within [%s, %s]", i, d, base/2, base)
		}
	}
	b.Reset()
	if d := b.Next(); d < 50*time.Millisecond || d > 100*time.Millisecond {
		t.Fatalf("after Reset: %s, want within [50ms, 100ms]", d)
	}
	if Jitter(0) != 0 {
		t.Fatal("Jitter(0) is not 0")
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on an ended context reported the full wait")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep did not report a full wait")
	}
}
