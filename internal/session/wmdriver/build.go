package wmdriver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// uploadFunc encrypts and uploads an attachment (whatsmeow's Client.Upload).
type uploadFunc func(ctx context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

// defaultDocumentName names a document sent without a filename.
const defaultDocumentName = "document"

// buildMessage turns msg into the WhatsApp message to send, uploading its
// media with upload; a reply names quoted (see quoteAuthor) as the author of
// the message it quotes, or no one when quoted is empty. It returns a
// *wa.SendError for content that can never be sent and a wrapped error for
// a failed upload.
func buildMessage(ctx context.Context, msg *wa.OutMessage, chat, quoted types.JID, upload uploadFunc) (*waE2E.Message, error) {
	ci := replyContext(msg.ReplyTo, quoted)
	if msg.Kind == vocab.ContentText {
		return textMessage(msg, ci)
	}
	if m, ok, err := contentMessage(msg, chat, ci); ok {
		return m, err
	}
	mt, ok := mediaType(msg.Kind)
	if !ok {
		return nil, &wa.SendError{Code: event.CodeInvalidJob, Err: fmt.Errorf("unknown content kind %q", msg.Kind)}
	}
	if len(msg.Media) == 0 {
		return nil, &wa.SendError{Code: event.CodeMediaInvalid, Err: errors.New("empty " + msg.Kind)}
	}
	up, err := upload(ctx, msg.Media, mt)
	if err != nil {
		return nil, uploadError(msg.Kind, err)
	}
	return mediaMessage(msg, up, ci), nil
}

func textMessage(msg *wa.OutMessage, ci *waE2E.ContextInfo) (*waE2E.Message, error) {
	if msg.Text == "" {
		return nil, &wa.SendError{Code: event.CodeInvalidJob, Err: errors.New("empty text")}
	}
	if ci == nil {
		return &waE2E.Message{Conversation: new(msg.Text)}, nil
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: new(msg.Text), ContextInfo: ci}}, nil
}

// uploadError classifies a failed upload: WhatsApp's 413 means the file is
// too large (permanent); everything else is transient.
func uploadError(kind string, err error) error {
	wrapped := fmt.Errorf("upload %s: %w", kind, err)
	if strings.Contains(err.Error(), "status code 413") {
		return &wa.SendError{Code: event.CodeMediaTooLarge, Err: wrapped}
	}
	return wrapped
}

// mediaType is the upload key type of a content kind; stickers are images.
func mediaType(kind string) (whatsmeow.MediaType, bool) {
	switch kind {
	case vocab.ContentImage, vocab.ContentSticker:
		return whatsmeow.MediaImage, true
	case vocab.ContentDocument:
		return whatsmeow.MediaDocument, true
	case vocab.ContentAudio:
		return whatsmeow.MediaAudio, true
	case vocab.ContentVideo:
		return whatsmeow.MediaVideo, true
	}
	return "", false
}

// replyContext quotes replyTo, written by author (none when empty).
// WhatsApp wants the quoted message's content too; the driver does not keep
// it, so it quotes an empty text, as other whatsmeow clients do.
func replyContext(replyTo string, author types.JID) *waE2E.ContextInfo {
	if replyTo == "" {
		return nil
	}
	ci := &waE2E.ContextInfo{StanzaID: new(replyTo), QuotedMessage: &waE2E.Message{Conversation: new("")}}
	if !author.IsEmpty() {
		ci.Participant = new(author.ToNonAD().String())
	}
	return ci
}

// mediaMessage builds the message for an uploaded attachment. Audio and
// stickers have no caption in WhatsApp, so their text is not sent.
func mediaMessage(msg *wa.OutMessage, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	mime, caption := mimetype(msg), optional(msg.Text)
	switch msg.Kind {
	case vocab.ContentImage:
		m := imageMessage(up, mime, caption, ci)
		m.Width, m.Height, m.JPEGThumbnail = size(msg.Width), size(msg.Height), thumbnail(msg.Thumbnail)
		return &waE2E.Message{ImageMessage: m}
	case vocab.ContentDocument:
		return documentMessage(msg.Filename, up, mime, caption, ci)
	case vocab.ContentAudio:
		m := audioMessage(up, mime, msg.PTT, ci)
		m.Seconds, m.Waveform = size(msg.Seconds), msg.Waveform
		return &waE2E.Message{AudioMessage: m}
	case vocab.ContentVideo:
		m := videoMessage(up, mime, caption, ci)
		m.Width, m.Height, m.Seconds = size(msg.Width), size(msg.Height), size(msg.Seconds)
		m.JPEGThumbnail = thumbnail(msg.Thumbnail)
		return &waE2E.Message{VideoMessage: m}
	default:
		m := stickerMessage(up, mime, ci)
		m.Width, m.Height = size(msg.Width), size(msg.Height)
		return &waE2E.Message{StickerMessage: m}
	}
}

// size is a known dimension or duration, nil when unknown (0).
func size(n int) *uint32 {
	if n <= 0 || n > math.MaxUint32 {
		return nil
	}
	return new(uint32(n))
}

func thumbnail(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func imageMessage(up whatsmeow.UploadResponse, mime string, caption *string, ci *waE2E.ContextInfo) *waE2E.ImageMessage {
	return &waE2E.ImageMessage{
		URL: new(up.URL), DirectPath: new(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: new(up.FileLength),
		Mimetype: new(mime), Caption: caption, ContextInfo: ci,
	}
}

// documentMessage wraps a captioned document in DocumentWithCaptionMessage,
// as WhatsApp's own clients do.
func documentMessage(filename string, up whatsmeow.UploadResponse, mime string, caption *string, ci *waE2E.ContextInfo) *waE2E.Message {
	name := cmp.Or(filename, defaultDocumentName)
	doc := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
		URL: new(up.URL), DirectPath: new(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: new(up.FileLength),
		Mimetype: new(mime), FileName: new(name), Title: new(name), Caption: caption, ContextInfo: ci,
	}}
	if caption == nil {
		return doc
	}
	return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: doc}}
}

func audioMessage(up whatsmeow.UploadResponse, mime string, ptt bool, ci *waE2E.ContextInfo) *waE2E.AudioMessage {
	return &waE2E.AudioMessage{
		URL: new(up.URL), DirectPath: new(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: new(up.FileLength),
		Mimetype: new(mime), PTT: new(ptt), ContextInfo: ci,
	}
}

func videoMessage(up whatsmeow.UploadResponse, mime string, caption *string, ci *waE2E.ContextInfo) *waE2E.VideoMessage {
	return &waE2E.VideoMessage{
		URL: new(up.URL), DirectPath: new(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: new(up.FileLength),
		Mimetype: new(mime), Caption: caption, ContextInfo: ci,
	}
}

func stickerMessage(up whatsmeow.UploadResponse, mime string, ci *waE2E.ContextInfo) *waE2E.StickerMessage {
	return &waE2E.StickerMessage{
		URL: new(up.URL), DirectPath: new(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: new(up.FileLength),
		Mimetype: new(mime), ContextInfo: ci,
	}
}

// mimetype is msg's media type, by internal/media's rules: a voice note
// is always Opus in Ogg and a sticker WebP, as WhatsApp requires; else the
// given one, else what the bytes look like when that fits the kind, else
// the kind's usual type.
func mimetype(msg *wa.OutMessage) string {
	return media.Mimetype(msg.Kind, msg.PTT, msg.Mimetype, msg.Media)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return new(s)
}
