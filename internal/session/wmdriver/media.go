package wmdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// mediaOverhead is how much larger than its plaintext an encrypted
// attachment may be: up to a block of AES-CBC padding and the 10-byte MAC.
const mediaOverhead = 16 + 10

// errMediaTooLarge is returned by a cappedFile asked to grow past its limit.
var errMediaTooLarge = errors.New("attachment is over the size limit")

// cappedFile is the whatsmeow.File a download writes into: an *os.File that
// refuses to grow past limit bytes, so that a media server sending more
// than the message declares cannot fill the disk. It has only File's
// methods (no ReadFrom or WriteString that would bypass the limit).
type cappedFile struct {
	f     *os.File
	limit int64
}

var _ whatsmeow.File = (*cappedFile)(nil)

func (c *cappedFile) Read(p []byte) (int, error)              { return c.f.Read(p) }
func (c *cappedFile) ReadAt(p []byte, off int64) (int, error) { return c.f.ReadAt(p, off) }
func (c *cappedFile) Seek(off int64, whence int) (int64, error) {
	return c.f.Seek(off, whence)
}
func (c *cappedFile) Stat() (os.FileInfo, error) { return c.f.Stat() }

func (c *cappedFile) Write(p []byte) (int, error) {
	pos, err := c.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if pos+int64(len(p)) > c.limit {
		return 0, errMediaTooLarge
	}
	return c.f.Write(p)
}

func (c *cappedFile) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.limit {
		return 0, errMediaTooLarge
	}
	return c.f.WriteAt(p, off)
}

func (c *cappedFile) Truncate(size int64) error {
	if size > c.limit {
		return errMediaTooLarge
	}
	return c.f.Truncate(size)
}

// downloadTo downloads att into f, refusing more than limit bytes of
// plaintext, and classifies the failure. An attachment that WhatsApp no
// longer serves is requested again from the sender's phone with a media
// retry receipt; the message is reported without it either way.
func (m mapper) downloadTo(ctx context.Context, info types.MessageInfo, att whatsmeow.DownloadableMessage, f *os.File, limit int64) error {
	err := mediaError(m.download(ctx, att, &cappedFile{f: f, limit: limit + mediaOverhead}))
	var merr *wa.MediaError
	if errors.As(err, &merr) && merr.Code == event.MediaExpired && m.retryMedia != nil &&
		len(att.GetMediaKey()) > 0 && info.Chat.Server != types.NewsletterServer {
		m.retryMedia(ctx, info, att.GetMediaKey())
	}
	return err
}

// mediaError turns whatsmeow's download errors that no retry can fix into
// a *wa.MediaError; others are returned as they are (transient).
func mediaError(err error) error {
	if err == nil {
		return nil
	}
	code := ""
	switch {
	case errors.Is(err, errMediaTooLarge):
		code = event.MediaTooLarge
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith403):
		code = event.MediaExpired
	case errors.Is(err, whatsmeow.ErrInvalidMediaEncSHA256), errors.Is(err, whatsmeow.ErrInvalidMediaSHA256),
		errors.Is(err, whatsmeow.ErrInvalidMediaHMAC), errors.Is(err, whatsmeow.ErrTooShortFile),
		errors.Is(err, whatsmeow.ErrInvalidUnencryptedMediaSHA256), errors.Is(err, whatsmeow.ErrNoURLPresent),
		errors.Is(err, whatsmeow.ErrUnknownMediaType):
		code = event.MediaCorrupt
	default:
		return fmt.Errorf("download media: %w", err)
	}
	return &wa.MediaError{Code: code, Err: err}
}

// retryMedia asks the phone to upload an expired attachment again (a media
// retry receipt). Its answer, events.MediaRetry, is not waited for.
func (c *conn) retryMedia(ctx context.Context, info types.MessageInfo, mediaKey []byte) {
	if err := c.client.SendMediaRetryReceipt(ctx, &info, mediaKey); err != nil {
		c.log.Debug("media retry request not sent", slog.String("message_id", info.ID), slog.String("error", err.Error()))
		return
	}
	c.log.Debug("media retry requested", slog.String("message_id", info.ID))
}
