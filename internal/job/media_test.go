package job_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/vocab"
)

func TestDecodeDataRoundTrip(t *testing.T) {
	t.Parallel()
	// Lengths 1-3 exercise every padding case; 0xfb/0xff bytes produce the
	// characters that differ between alphabets ('+' '/' vs '-' '_').
	payloads := [][]byte{
		{0xfb}, {0xfb, 0xff}, {0xfb, 0xff, 0xbf},
		[]byte(tinyPDF),
		bytes.Repeat([]byte{0xff, 0xfe, 0x3e, 0x3f}, 100),
	}
	wrap := func(s string) string { // 76-column lines, as MIME writes them
		var b strings.Builder
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		b.WriteString(s)
		return b.String()
	}
	encodings := []struct {
		name     string
		encode   func([]byte) string
		mimetype string
	}{
		{"std padded", base64.StdEncoding.EncodeToString, ""},
		{"std raw", base64.RawStdEncoding.EncodeToString, ""},
		{"url padded", base64.URLEncoding.EncodeToString, ""},
		{"url raw", base64.RawURLEncoding.EncodeToString, ""},
		{"std wrapped", func(b []byte) string { return wrap(base64.StdEncoding.EncodeToString(b)) }, ""},
		{"spaces and tabs", func(b []byte) string {
			return " \t" + strings.Join(strings.SplitAfter(base64.StdEncoding.EncodeToString(b), ""), " ") + "\n"
		}, ""},
		{"data URL", func(b []byte) string { return "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(b) }, "application/pdf"},
		{"data URL raw url", func(b []byte) string { return "data:image/png;base64," + base64.RawURLEncoding.EncodeToString(b) }, "image/png"},
		{"data URL upper case", func(b []byte) string { return "DATA:Image/PNG;BASE64," + base64.StdEncoding.EncodeToString(b) }, "image/png"},
		{"data URL with parameters", func(b []byte) string {
			return "data:audio/ogg;codecs=opus;base64," + base64.StdEncoding.EncodeToString(b)
		}, "audio/ogg; codecs=opus"},
		{"data URL wrapped", func(b []byte) string {
			return "data:application/pdf;base64," + wrap(base64.StdEncoding.EncodeToString(b))
		}, "application/pdf"},
		{"data URL percent-encoded base64", func(b []byte) string {
			s := base64.StdEncoding.EncodeToString(b)
			return "data:application/pdf;base64," + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(s)
		}, "application/pdf"},
		{"data URL without mimetype", func(b []byte) string { return "data:;base64," + base64.StdEncoding.EncodeToString(b) }, ""},
		{"data URL percent-encoded", func(b []byte) string {
			var s strings.Builder
			for _, c := range b {
				s.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
			}
			return "data:application/octet-stream," + s.String()
		}, "application/octet-stream"},
	}
	for _, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			t.Parallel()
			for _, p := range payloads {
				s := enc.encode(p)
				data, mimetype, err := job.DecodeData(s)
				if err != nil {
					t.Fatalf("DecodeData(%q): %v", s, err)
				}
				if !bytes.Equal(data, p) || mimetype != enc.mimetype {
					t.Fatalf("DecodeData(%q) = %x, %q; want %x, %q", s, data, mimetype, p, enc.mimetype)
				}
			}
		})
	}
}

func TestDecodeDataPlainDataURL(t *testing.T) {
	t.Parallel()
	data, mimetype, err := job.DecodeData("data:text/plain;charset=UTF-8,hola%20mundo%21")
	if err != nil || string(data) != "hola mundo!" || mimetype != "text/plain; charset=UTF-8" {
		t.Fatalf("DecodeData = %q, %q, %v; want \"hola mundo!\", text/plain; charset=UTF-8", data, mimetype, err)
	}
}

func TestDecodeDataInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, s string }{
		{"empty", ""},
		{"white space", " \n\t "},
		{"padding only", "===="},
		{"bad character", "QQ=!"},
		{"not base64", "this is not base64?"},
		{"one character", "Q"},
		{"five characters", "QUJDR"},
		{"padding in the middle", "QQ==QQ=="},
		{"mixed alphabets", "+-8A"},
		{"data URL without comma", "data:application/pdf;base64"},
		{"data URL empty payload", "data:application/pdf;base64,"},
		{"data URL bad base64", "data:application/pdf;base64,JVBER!i0"},
		{"data URL bad percent", "data:text/plain,%zz"},
		{"data URL empty plain payload", "data:text/plain,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, mimetype, err := job.DecodeData(tt.s)
			if data != nil || mimetype != "" {
				t.Errorf("DecodeData(%q) = %x, %q with its error", tt.s, data, mimetype)
			}
			wantError(t, err, event.CodeMediaInvalid, "")
		})
	}
}

func TestDetectMimetype(t *testing.T) {
	t.Parallel()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	tests := []struct {
		name     string
		data     []byte
		filename string
		declared string
		want     string
	}{
		{"declared wins", png, "a.pdf", "application/pdf", "application/pdf"},
		{"declared normalized", nil, "", "Image/JPEG", "image/jpeg"},
		{"declared with parameters", nil, "", "audio/ogg;codecs=opus", "audio/ogg; codecs=opus"},
		{"declared malformed", nil, "a.pdf", "pdf", "application/pdf"},
		{"declared without subtype", nil, "a.pdf", "image/", "application/pdf"},
		{"declared octet-stream", nil, "a.pdf", "application/octet-stream", "application/pdf"},
		{"pdf", nil, "ticket_123.pdf", "", "application/pdf"},
		{"upper-case extension", nil, "PHOTO.JPG", "", "image/jpeg"},
		{"jpeg", nil, "a.jpeg", "", "image/jpeg"},
		{"png", nil, "a.png", "", "image/png"},
		{"webp", nil, "a.webp", "", "image/webp"},
		{"gif", nil, "a.gif", "", "image/gif"},
		{"mp4", nil, "a.mp4", "", "video/mp4"},
		{"3gp", nil, "a.3gp", "", "video/3gpp"},
		{"ogg", nil, "a.ogg", "", "audio/ogg"},
		{"opus", nil, "a.opus", "", "audio/ogg"},
		{"mp3", nil, "a.mp3", "", "audio/mpeg"},
		{"m4a", nil, "a.m4a", "", "audio/mp4"},
		{"aac", nil, "a.aac", "", "audio/aac"},
		{"txt", nil, "a.txt", "", "text/plain"},
		{"csv", nil, "a.csv", "", "text/csv"},
		{"docx", nil, "a.docx", "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"xlsx", nil, "a.xlsx", "", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
		{"pptx", nil, "a.pptx", "", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
		{"zip", nil, "a.zip", "", "application/zip"},
		{"path in filename", nil, "dir.x/report.pdf", "", "application/pdf"},
		{"sniffed png", png, "", "", "image/png"},
		{"sniffed pdf", []byte(tinyPDF), "noextension", "", "application/pdf"},
		{"sniffed over unknown extension", png, "a.unknownext", "", "image/png"},
		{"sniffed text", []byte("hola"), "", "", "text/plain; charset=utf-8"},
		{"nothing known", []byte{0x00, 0x01, 0x02, 0xfe}, "a.", "", ""},
		{"nothing at all", nil, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := job.DetectMimetype(tt.data, tt.filename, tt.declared); got != tt.want {
				t.Errorf("DetectMimetype(%q, %q, %q) = %q, want %q", tt.data, tt.filename, tt.declared, got, tt.want)
			}
		})
	}
}

func TestCheckSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind  string
		limit int
	}{
		{vocab.ContentDocument, 100 << 20},
		{vocab.ContentImage, 16 << 20},
		{vocab.ContentVideo, 16 << 20},
		{vocab.ContentAudio, 16 << 20},
		{vocab.ContentSticker, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			if got := job.MaxSize(tt.kind); got != tt.limit {
				t.Errorf("MaxSize = %d, want %d", got, tt.limit)
			}
			for _, n := range []int{0, 1, tt.limit} {
				if err := job.CheckSize(tt.kind, n); err != nil {
					t.Errorf("CheckSize(%d): %v", n, err)
				}
			}
			wantError(t, job.CheckSize(tt.kind, tt.limit+1), event.CodeMediaTooLarge, "")
		})
	}
	for _, kind := range []string{vocab.ContentText, "", "gif"} {
		if got := job.MaxSize(kind); got != 0 {
			t.Errorf("MaxSize(%q) = %d, want 0", kind, got)
		}
		wantError(t, job.CheckSize(kind, 1), event.CodeInvalidJob, "")
	}
}
