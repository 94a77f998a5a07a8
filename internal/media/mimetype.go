package media

import (
	"net/http"
	"strings"

	"github.com/wabus/wabus/internal/vocab"
)

// Mimetypes WhatsApp requires of voice notes and stickers.
const (
	VoiceNoteMimetype = "audio/ogg; codecs=opus"
	StickerMimetype   = "image/webp"
)

const octetStream = "application/octet-stream"

// Mimetype is the mimetype to send an attachment of kind with: a voice note
// is always Opus in Ogg and a sticker WebP, as WhatsApp requires; otherwise
// declared (the job's or the one detected from its filename or bytes), or,
// when that is empty, what data looks like if it fits the kind, else the
// kind's usual type. An Ogg file sent as audio is audio/ogg.
func Mimetype(kind string, ptt bool, declared string, data []byte) string {
	switch {
	case kind == vocab.ContentAudio && ptt:
		return VoiceNoteMimetype
	case kind == vocab.ContentSticker:
		return StickerMimetype
	case declared != "":
		if kind == vocab.ContentAudio && strings.HasPrefix(declared, "application/ogg") {
			return "audio/ogg"
		}
		return declared
	}
	detected := sniff(data)
	switch kind {
	case vocab.ContentAudio:
		return ifPrefix(detected, "audio/", "audio/mpeg")
	case vocab.ContentImage:
		return ifPrefix(detected, "image/", "image/jpeg")
	case vocab.ContentVideo:
		return ifPrefix(detected, "video/", "video/mp4")
	}
	return detected
}

// sniff is http.DetectContentType, with Ogg taken to be audio.
func sniff(data []byte) string {
	if len(data) == 0 {
		return octetStream
	}
	if d := http.DetectContentType(data); d != "application/ogg" {
		return d
	}
	return "audio/ogg"
}

func ifPrefix(s, prefix, fallback string) string {
	if strings.HasPrefix(s, prefix) {
		return s
	}
	return fallback
}
