package job

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// Media size limits, per kind, of the decoded bytes (CheckSize). They follow
// WhatsApp's classic limits; documents stay at 100 MiB (WhatsApp allows more)
// because a worker holds the whole file in memory to encrypt and upload it.
const (
	MaxDocumentSize = 100 << 20 // 100 MiB
	MaxImageSize    = 16 << 20  // 16 MiB
	MaxVideoSize    = 16 << 20  // 16 MiB
	MaxAudioSize    = 16 << 20  // 16 MiB
	MaxStickerSize  = 1 << 20   // 1 MiB
)

const octetStream = "application/octet-stream"

// MaxSize returns the size limit of a media kind, or 0 for a kind without
// media (text or unknown).
func MaxSize(kind string) int {
	switch kind {
	case vocab.ContentDocument:
		return MaxDocumentSize
	case vocab.ContentImage:
		return MaxImageSize
	case vocab.ContentVideo:
		return MaxVideoSize
	case vocab.ContentAudio:
		return MaxAudioSize
	case vocab.ContentSticker:
		return MaxStickerSize
	}
	return 0
}

// CheckSize checks n bytes of media of the given kind against its limit. It
// returns an *Error with code media_too_large above the limit, and with code
// invalid_job for a kind without media.
func CheckSize(kind string, n int) error {
	limit := MaxSize(kind)
	if limit == 0 {
		return invalidJob("kind %q has no media", kind)
	}
	if n > limit {
		return &Error{
			Code: event.CodeMediaTooLarge,
			Msg:  fmt.Sprintf("%s is %d bytes, limit %d MiB", kind, n, limit>>20),
		}
	}
	return nil
}

// DecodeData decodes the data of a media object: base64 in the standard or
// URL alphabet, padded or not, with white space anywhere ignored; or a
// data:[<mime>][;base64],<payload> URL (RFC 2397, the payload percent-encoded
// when it is not base64). mimetype is the data URL's media type, normalized
// (lower case, parameters kept, see mime.FormatMediaType), or "" for plain
// base64 or a data URL without a well-formed one. It returns an *Error with
// code media_invalid for data that is not one of those forms or decodes to
// nothing.
func DecodeData(s string) (data []byte, mimetype string, err error) {
	s = strings.TrimSpace(s)
	if len(s) >= 5 && strings.EqualFold(s[:5], "data:") {
		data, mimetype, err = decodeDataURL(s[5:])
	} else {
		data, err = decodeBase64(s)
	}
	if err != nil {
		return nil, "", &Error{Code: event.CodeMediaInvalid, Msg: "media data is not base64 or a data URL", Err: err}
	}
	if len(data) == 0 {
		return nil, "", &Error{Code: event.CodeMediaInvalid, Msg: "media data is empty"}
	}
	return data, mimetype, nil
}

// decodeDataURL decodes what follows "data:".
func decodeDataURL(s string) (data []byte, mimetype string, err error) {
	meta, payload, ok := strings.Cut(s, ",")
	if !ok {
		return nil, "", fmt.Errorf("data URL has no comma")
	}
	isBase64 := false
	if i := strings.LastIndexByte(meta, ';'); i >= 0 && strings.EqualFold(strings.TrimSpace(meta[i+1:]), "base64") {
		isBase64, meta = true, meta[:i]
	}
	if !isBase64 || strings.Contains(payload, "%") {
		if payload, err = url.PathUnescape(payload); err != nil {
			return nil, "", fmt.Errorf("unescape data URL: %w", err)
		}
	}
	if isBase64 {
		data, err = decodeBase64(payload)
	} else {
		data = []byte(payload)
	}
	return data, normalizeMimetype(meta), err
}

// decodeBase64 decodes standard or URL base64, padded or not, ignoring white
// space.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\r\n\f\v") {
		s = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\f' || r == '\v' {
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	data, err := enc.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode base64: %w", err)
	}
	return data, nil
}

// DetectMimetype returns the mimetype media was given or looks like:
// declared if it is a well-formed type/subtype other than
// application/octet-stream (normalized as by mime.FormatMediaType); else the
// type of the filename's extension (a built-in table, then
// mime.TypeByExtension); else what http.DetectContentType sniffs from data;
// else "", so that the driver's rules for the kind decide (internal/media's
// Mimetype: a voice note is Opus, a sticker WebP, whatever is declared).
func DetectMimetype(data []byte, filename, declared string) string {
	if mt := normalizeMimetype(declared); mt != "" && !strings.HasPrefix(mt, octetStream) {
		return mt
	}
	if mt := mimetypeByExtension(filename); mt != "" {
		return mt
	}
	if len(data) > 0 {
		if mt := http.DetectContentType(data); mt != octetStream {
			return mt
		}
	}
	return ""
}

// extensionTypes are the mimetypes of common extensions, so detection does not
// depend on the system's mime.types.
var extensionTypes = map[string]string{
	".pdf":  "application/pdf",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
	".gif":  "image/gif",
	".mp4":  "video/mp4",
	".3gp":  "video/3gpp",
	".mov":  "video/quicktime",
	".ogg":  "audio/ogg",
	".opus": "audio/ogg",
	".oga":  "audio/ogg",
	".mp3":  "audio/mpeg",
	".m4a":  "audio/mp4",
	".aac":  "audio/aac",
	".amr":  "audio/amr",
	".wav":  "audio/wav",
	".txt":  "text/plain",
	".csv":  "text/csv",
	".json": "application/json",
	".doc":  "application/msword",
	".xls":  "application/vnd.ms-excel",
	".ppt":  "application/vnd.ms-powerpoint",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".zip":  "application/zip",
}

// mimetypeByExtension returns the mimetype of filename's extension, or "".
func mimetypeByExtension(filename string) string {
	ext := strings.ToLower(path.Ext(filename))
	if ext == "" || ext == "." {
		return ""
	}
	if mt, ok := extensionTypes[ext]; ok {
		return mt
	}
	return normalizeMimetype(mime.TypeByExtension(ext))
}

// normalizeMimetype returns s as mime.FormatMediaType writes it if it is a
// well-formed type/subtype with valid parameters, "" otherwise.
func normalizeMimetype(s string) string {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return mime.FormatMediaType(mt, params)
}
