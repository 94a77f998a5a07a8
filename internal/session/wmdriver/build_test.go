package wmdriver

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// fakeUpload records what was uploaded and answers a fixed response.
type fakeUpload struct {
	data []byte
	mt   whatsmeow.MediaType
	err  error
}

func (f *fakeUpload) upload(_ context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.data, f.mt = data, mt
	if f.err != nil {
		return whatsmeow.UploadResponse{}, f.err
	}
	return whatsmeow.UploadResponse{
		URL: "https://mmg.whatsapp.net/x", DirectPath: "/v/t62/x", MediaKey: []byte("key"),
		FileEncSHA256: []byte("enc"), FileSHA256: []byte("plain"), FileLength: uint64(len(data)),
	}, nil
}

// mediaFields is what every attachment message exposes.
type mediaFields interface {
	GetURL() string
	GetDirectPath() string
	GetMediaKey() []byte
	GetFileEncSHA256() []byte
	GetFileSHA256() []byte
	GetFileLength() uint64
	GetMimetype() string
	GetContextInfo() *waE2E.ContextInfo
}

func checkUploaded(t *testing.T, m mediaFields, size int, mime string) {
	t.Helper()
	if m.GetURL() != "https://mmg.whatsapp.net/x" || m.GetDirectPath() != "/v/t62/x" ||
		string(m.GetMediaKey()) != "key" || string(m.GetFileEncSHA256()) != "enc" ||
		string(m.GetFileSHA256()) != "plain" || m.GetFileLength() != uint64(size) {
		t.Errorf("upload fields not copied: %v", m)
	}
	if m.GetMimetype() != mime {
		t.Errorf("mimetype = %q, want %q", m.GetMimetype(), mime)
	}
}

// build builds msg; a reply names quoted as the quoted message's author.
func build(t *testing.T, msg *wa.OutMessage, quoted types.JID) (*waE2E.Message, *fakeUpload) {
	t.Helper()
	up := &fakeUpload{}
	m, err := buildMessage(context.Background(), msg, alice, quoted, up.upload)
	if err != nil {
		t.Fatalf("buildMessage: %v", err)
	}
	return m, up
}

func TestBuildText(t *testing.T) {
	t.Parallel()
	m, up := build(t, &wa.OutMessage{Kind: vocab.ContentText, Text: "Tu reserva ha sido confirmada"}, alice)
	if m.GetConversation() != "Tu reserva ha sido confirmada" || m.ExtendedTextMessage != nil || up.data != nil {
		t.Errorf("text message = %v (uploaded %v)", m, up.data)
	}
}

func TestBuildTextReply(t *testing.T) {
	t.Parallel()
	m, _ := build(t, &wa.OutMessage{Kind: vocab.ContentText, Text: "ok", ReplyTo: "3EB0C4F1A2B3"}, alice)
	ext := m.GetExtendedTextMessage()
	if m.Conversation != nil || ext.GetText() != "ok" {
		t.Fatalf("reply = %v, want an extended text", m)
	}
	checkQuote(t, ext.GetContextInfo(), "3EB0C4F1A2B3", alice.String())
}

func TestBuildReplyToUnknownAuthorHasNoParticipant(t *testing.T) {
	t.Parallel()
	m, _ := build(t, &wa.OutMessage{Kind: vocab.ContentText, Text: "ok", ReplyTo: "ABC"}, types.EmptyJID)
	ci := m.GetExtendedTextMessage().GetContextInfo()
	if ci.GetStanzaID() != "ABC" || ci.Participant != nil {
		t.Errorf("group quote = %v, want stanza id only", ci)
	}
}

func checkQuote(t *testing.T, ci *waE2E.ContextInfo, id, participant string) {
	t.Helper()
	if ci.GetStanzaID() != id || ci.GetParticipant() != participant || ci.GetQuotedMessage() == nil {
		t.Errorf("context info = %v, want stanza %q participant %q and a quoted stub", ci, id, participant)
	}
}

const pdfHeader = "%PDF-1.7\n1 0 obj\n"

func TestBuildDocument(t *testing.T) {
	t.Parallel()
	pdf := []byte(pdfHeader)
	m, up := build(t, &wa.OutMessage{Kind: vocab.ContentDocument, Media: pdf, Filename: "ticket_123.pdf", ReplyTo: "Q1"}, alice)
	doc := m.GetDocumentMessage()
	if up.mt != whatsmeow.MediaDocument || !bytes.Equal(up.data, pdf) {
		t.Errorf("uploaded %q as %q", up.data, up.mt)
	}
	checkUploaded(t, doc, len(pdf), "application/pdf")
	if doc.GetFileName() != "ticket_123.pdf" || doc.GetTitle() != "ticket_123.pdf" || doc.Caption != nil {
		t.Errorf("document = %v", doc)
	}
	checkQuote(t, doc.GetContextInfo(), "Q1", alice.String())
}

func TestBuildDocumentWithCaption(t *testing.T) {
	t.Parallel()
	m, _ := build(t, &wa.OutMessage{Kind: vocab.ContentDocument, Media: []byte("x"), Mimetype: "text/csv", Text: "reporte"}, alice)
	doc := m.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
	if m.DocumentMessage != nil || doc.GetCaption() != "reporte" || doc.GetFileName() != "document" {
		t.Fatalf("captioned document = %v", m)
	}
	checkUploaded(t, doc, 1, "text/csv")
}

func TestBuildImage(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n0000")
	m, up := build(t, &wa.OutMessage{Kind: vocab.ContentImage, Media: png, Text: "foto", ReplyTo: "Q2"}, alice)
	img := m.GetImageMessage()
	if up.mt != whatsmeow.MediaImage || img.GetCaption() != "foto" {
		t.Errorf("image = %v uploaded as %q", img, up.mt)
	}
	checkUploaded(t, img, len(png), "image/png")
	checkQuote(t, img.GetContextInfo(), "Q2", alice.String())
}

func TestBuildAudio(t *testing.T) {
	t.Parallel()
	ogg := []byte("OggS\x00\x02rest")
	tests := []struct {
		name string
		msg  wa.OutMessage
		mime string
		ptt  bool
	}{
		{"voice note", wa.OutMessage{Kind: vocab.ContentAudio, Media: ogg, PTT: true}, "audio/ogg; codecs=opus", true},
		{"ogg file", wa.OutMessage{Kind: vocab.ContentAudio, Media: ogg}, "audio/ogg", false},
		{"unknown bytes", wa.OutMessage{Kind: vocab.ContentAudio, Media: []byte{1, 2, 3}}, "audio/mpeg", false},
		{"given type", wa.OutMessage{Kind: vocab.ContentAudio, Media: ogg, Mimetype: "audio/aac", Text: "dropped"}, "audio/aac", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, up := build(t, &tt.msg, alice)
			a := m.GetAudioMessage()
			if up.mt != whatsmeow.MediaAudio || a.PTT == nil || a.GetPTT() != tt.ptt {
				t.Errorf("audio = %v uploaded as %q", a, up.mt)
			}
			checkUploaded(t, a, len(tt.msg.Media), tt.mime)
		})
	}
}

func TestBuildVideo(t *testing.T) {
	t.Parallel()
	m, up := build(t, &wa.OutMessage{Kind: vocab.ContentVideo, Media: []byte("not sniffable"), Text: "gol"}, group)
	v := m.GetVideoMessage()
	if up.mt != whatsmeow.MediaVideo || v.GetCaption() != "gol" || v.ContextInfo != nil {
		t.Errorf("video = %v uploaded as %q", v, up.mt)
	}
	checkUploaded(t, v, 13, "video/mp4")
}

func TestBuildSticker(t *testing.T) {
	t.Parallel()
	m, up := build(t, &wa.OutMessage{Kind: vocab.ContentSticker, Media: []byte("RIFF....WEBPVP8 "), ReplyTo: "Q3"}, alice)
	s := m.GetStickerMessage()
	if up.mt != whatsmeow.MediaImage {
		t.Errorf("sticker uploaded as %q", up.mt)
	}
	checkUploaded(t, s, 16, "image/webp")
	checkQuote(t, s.GetContextInfo(), "Q3", alice.String())
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       wa.OutMessage
		uploadErr error
		code      string // "" for a transient error
	}{
		{"unknown kind", wa.OutMessage{Kind: "poll", Text: "x"}, nil, event.CodeInvalidJob},
		{"empty text", wa.OutMessage{Kind: vocab.ContentText}, nil, event.CodeInvalidJob},
		{"empty media", wa.OutMessage{Kind: vocab.ContentImage}, nil, event.CodeMediaInvalid},
		{"too large", wa.OutMessage{Kind: vocab.ContentVideo, Media: []byte("v")}, errors.New("upload failed with status code 413"), event.CodeMediaTooLarge},
		{"upload failed", wa.OutMessage{Kind: vocab.ContentVideo, Media: []byte("v")}, errors.New("upload failed with status code 500"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := &fakeUpload{err: tt.uploadErr}
			_, err := buildMessage(context.Background(), &tt.msg, alice, alice, up.upload)
			checkCode(t, err, tt.code)
			if tt.uploadErr != nil && !errors.Is(err, tt.uploadErr) {
				t.Errorf("error %v does not wrap the upload error", err)
			}
		})
	}
}

// checkCode checks that err is a *wa.SendError with code, or, for code "",
// a non-nil error that is not one.
func checkCode(t *testing.T, err error, code string) {
	t.Helper()
	var se *wa.SendError
	switch {
	case err == nil:
		t.Fatalf("no error, want code %q", code)
	case code == "" && errors.As(err, &se):
		t.Errorf("error %v is permanent (%s), want transient", err, se.Code)
	case code != "" && (!errors.As(err, &se) || se.Code != code):
		t.Errorf("error %v, want *wa.SendError with code %q", err, code)
	}
}
