package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

func TestMediaErrorClassifiesDownloadFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code string // "" for transient
	}{
		{whatsmeow.ErrMediaDownloadFailedWith404, event.MediaExpired},
		{fmt.Errorf("failed to download media from last host: %w", whatsmeow.ErrMediaDownloadFailedWith410), event.MediaExpired},
		{whatsmeow.ErrMediaDownloadFailedWith403, event.MediaExpired},
		{fmt.Errorf("failed to download media from last host: %w", whatsmeow.ErrInvalidMediaEncSHA256), event.MediaCorrupt},
		{whatsmeow.ErrInvalidMediaSHA256, event.MediaCorrupt},
		{whatsmeow.ErrInvalidMediaHMAC, event.MediaCorrupt},
		{whatsmeow.ErrNoURLPresent, event.MediaCorrupt},
		{fmt.Errorf("copy: %w", errMediaTooLarge), event.MediaTooLarge},
		{errors.New("dial tcp: connection refused"), ""},
		{whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: http.StatusBadGateway}}, ""},
		{context.DeadlineExceeded, ""},
	}
	for _, tt := range tests {
		err := mediaError(tt.err)
		var merr *wa.MediaError
		if got := errors.As(err, &merr); got != (tt.code != "") || (got && merr.Code != tt.code) {
			t.Errorf("mediaError(%v) = %v, want code %q", tt.err, err, tt.code)
		}
		if !errors.Is(err, tt.err) {
			t.Errorf("mediaError(%v) = %v, does not wrap it", tt.err, err)
		}
	}
}

func TestCappedFileRefusesToGrowPastItsLimit(t *testing.T) {
	t.Parallel()
	f, err := os.CreateTemp(t.TempDir(), "media")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &cappedFile{f: f, limit: 8}
	if _, err := io.WriteString(c, "12345"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(c, strings.NewReader("6789")); !errors.Is(err, errMediaTooLarge) {
		t.Fatalf("write past the limit: %v", err)
	}
	if _, err := c.WriteAt([]byte("xyz"), 6); !errors.Is(err, errMediaTooLarge) {
		t.Fatalf("write at past the limit: %v", err)
	}
	if err := c.Truncate(9); !errors.Is(err, errMediaTooLarge) {
		t.Fatalf("truncate past the limit: %v", err)
	}
	// A retried download starts again from the beginning: that is allowed.
	if _, err := c.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "abcdefgh"); err != nil {
		t.Fatalf("rewrite within the limit: %v", err)
	}
}

func TestExpiredMediaIsRequestedAgainFromThePhone(t *testing.T) {
	t.Parallel()
	var asked []string
	m := testMapper()
	m.download = func(context.Context, whatsmeow.DownloadableMessage, whatsmeow.File) error {
		return whatsmeow.ErrMediaDownloadFailedWith410
	}
	m.retryMedia = func(_ context.Context, info types.MessageInfo, key []byte) {
		asked = append(asked, info.ID+":"+string(key))
	}
	doc := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{MediaKey: []byte("k"), Mimetype: new("application/pdf")}}
	ev, _ := m.event(inbound(direct(), doc))
	f, err := os.CreateTemp(t.TempDir(), "media")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = ev.(wa.Message).Media.DownloadTo(context.Background(), f, 1<<10)
	var merr *wa.MediaError
	if !errors.As(err, &merr) || merr.Code != event.MediaExpired {
		t.Fatalf("DownloadTo = %v, want expired", err)
	}
	if len(asked) != 1 || asked[0] != "3EB0C4F1A2B3:k" {
		t.Fatalf("media retry requests %q, want one for the message with its key", asked)
	}
}
