package session

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// A driver that downloads into memory (as the simulator may) is held to
// the same limit as a streaming one.
func TestInMemoryDownloadIsHeldToTheLimit(t *testing.T) {
	t.Parallel()
	in := &wa.InboundMedia{Download: func(context.Context) ([]byte, error) { return []byte("0123456789"), nil }}
	for _, tt := range []struct {
		limit int64
		code  string
	}{{10, ""}, {9, event.MediaTooLarge}} {
		f, err := os.CreateTemp(t.TempDir(), "media")
		if err != nil {
			t.Fatal(err)
		}
		size, err := download(context.Background(), in, f, tt.limit)
		f.Close()
		var merr *wa.MediaError
		switch {
		case tt.code == "" && (err != nil || size != 10):
			t.Errorf("limit %d: size %d, %v; want 10 bytes stored", tt.limit, size, err)
		case tt.code != "" && (!errors.As(err, &merr) || merr.Code != tt.code):
			t.Errorf("limit %d: %v, want media error %s", tt.limit, err, tt.code)
		}
	}
}

// A failed download is a fetchError (it counts against the attachment);
// a refusal for good is a MediaError as the driver gave it.
func TestDownloadFailuresAreClassified(t *testing.T) {
	t.Parallel()
	expired := &wa.MediaError{Code: event.MediaExpired, Err: errors.New("410")}
	for _, tt := range []struct {
		err       error
		transient bool
	}{{errors.New("connection reset"), true}, {expired, false}} {
		in := &wa.InboundMedia{DownloadTo: func(context.Context, *os.File, int64) error { return tt.err }}
		f, err := os.CreateTemp(t.TempDir(), "media")
		if err != nil {
			t.Fatal(err)
		}
		_, err = download(context.Background(), in, f, 1<<10)
		f.Close()
		var ferr *fetchError
		var merr *wa.MediaError
		if errors.As(err, &ferr) != tt.transient || errors.As(err, &merr) == tt.transient || !errors.Is(err, tt.err) {
			t.Errorf("download error %v: got %v (transient %v)", tt.err, err, errors.As(err, &ferr))
		}
	}
}
