package media

import (
	"errors"
	"time"

	"github.com/wabus/wabus/internal/vocab"
)

// ErrNotWebP is returned by Describe for a sticker that is not a WebP
// image (WhatsApp shows only WebP stickers; the standard library cannot
// convert other formats to it).
var ErrNotWebP = errors.New("a sticker must be a WebP image")

// ErrBadThumbnail is returned by Describe for a thumbnail that is not a
// JPEG, PNG or GIF image.
var ErrBadThumbnail = errors.New("thumbnail is not a JPEG, PNG or GIF image")

// Info is what a phone needs beside an attachment's bytes. Zero values are
// what could not be read (see the package doc).
type Info struct {
	Mimetype string
	// Width and Height are an image's, a sticker's or a video's pixels.
	Width, Height int
	// Seconds is the duration of audio or video, rounded, at least 1 when
	// known.
	Seconds int
	// Waveform is a voice note's, WaveformLen points of 0-100.
	Waveform []byte
	// Thumbnail is a JPEG preview of an image, or of a video from the
	// thumbnail the job gave.
	Thumbnail []byte
}

// Describe reads the Info of an attachment of kind (ptt for a voice note),
// declared being the mimetype the job gave or detection found ("" if
// none; see Mimetype). thumbnail is a video's preview as the job gave it,
// decoded, or nil. It returns ErrNotWebP for a sticker that is not WebP and
// ErrBadThumbnail for a thumbnail it cannot read.
func Describe(kind string, ptt bool, declared string, data, thumbnail []byte) (Info, error) {
	info := Info{Mimetype: Mimetype(kind, ptt, declared, data)}
	switch kind {
	case vocab.ContentImage:
		if thumb, w, h, ok := Thumbnail(data); ok {
			info.Thumbnail, info.Width, info.Height = thumb, w, h
		} else if w, h, ok := ImageSize(data); ok {
			info.Width, info.Height = w, h
		}
	case vocab.ContentSticker:
		w, h, ok := WebPSize(data)
		if !ok {
			return Info{}, ErrNotWebP
		}
		info.Width, info.Height = w, h
	case vocab.ContentAudio:
		if d, ok := OggOpusDuration(data); ok {
			info.Seconds = seconds(d)
		} else if d, ok := MP4Duration(data); ok { // m4a
			info.Seconds = seconds(d)
		}
		if ptt {
			info.Waveform = Waveform(data)
		}
	case vocab.ContentVideo:
		v := readMP4(data)
		if v.ok {
			info.Seconds = seconds(v.duration)
		}
		info.Width, info.Height = v.width, v.height
		if thumbnail != nil {
			thumb, _, _, ok := Thumbnail(thumbnail)
			if !ok {
				return Info{}, ErrBadThumbnail
			}
			info.Thumbnail = thumb
		}
	}
	return info, nil
}

// seconds rounds d to whole seconds, at least 1 for a positive d.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return max(1, int(d.Round(time.Second)/time.Second))
}
