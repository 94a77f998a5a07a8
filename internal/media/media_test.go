package media_test

import (
	"bytes"
	"errors"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/testing/mediatest"
	"github.com/wabus/wabus/internal/vocab"
)

func TestMimetypeRulesOfEachKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind     string
		ptt      bool
		declared string
		data     []byte
		want     string
	}{
		{vocab.ContentAudio, true, "audio/ogg", nil, "audio/ogg; codecs=opus"},
		{vocab.ContentAudio, true, "", mediatest.OggOpus([]int{10}), "audio/ogg; codecs=opus"},
		{vocab.ContentAudio, false, "application/ogg", nil, "audio/ogg"},
		{vocab.ContentAudio, false, "", mediatest.OggOpus([]int{10}), "audio/ogg"},
		{vocab.ContentAudio, false, "", []byte{1, 2, 3}, "audio/mpeg"},
		{vocab.ContentAudio, false, "audio/mp4", nil, "audio/mp4"},
		{vocab.ContentSticker, false, "image/png", mediatest.WebP(), "image/webp"},
		{vocab.ContentSticker, false, "", mediatest.WebP(), "image/webp"},
		{vocab.ContentImage, false, "", mediatest.PNG(4, 4), "image/png"},
		{vocab.ContentImage, false, "", []byte("hello"), "image/jpeg"},
		{vocab.ContentVideo, false, "", []byte("hello"), "video/mp4"},
		{vocab.ContentDocument, false, "", []byte("%PDF-1.4 x"), "application/pdf"},
		{vocab.ContentDocument, false, "", []byte{0, 1, 2, 0xfe}, "application/octet-stream"},
		{vocab.ContentDocument, false, "text/csv", nil, "text/csv"},
	}
	for _, tt := range tests {
		if got := media.Mimetype(tt.kind, tt.ptt, tt.declared, tt.data); got != tt.want {
			t.Errorf("Mimetype(%s, ptt %v, %q) = %q, want %q", tt.kind, tt.ptt, tt.declared, got, tt.want)
		}
	}
}

func TestImageThumbnailsAndDimensions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		data          []byte
		width, height int
		tw, th        int
	}{
		{"jpeg landscape", mediatest.JPEG(640, 480), 640, 480, 72, 54},
		{"png portrait", mediatest.PNG(300, 600), 300, 600, 36, 72},
		{"gif small", mediatest.GIF(40, 30), 40, 30, 40, 30},
	}
	for _, tt := range tests {
		info, err := media.Describe(vocab.ContentImage, false, "", tt.data, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if info.Width != tt.width || info.Height != tt.height {
			t.Errorf("%s: %dx%d, want %dx%d", tt.name, info.Width, info.Height, tt.width, tt.height)
		}
		thumb, err := jpeg.Decode(bytes.NewReader(info.Thumbnail))
		if err != nil {
			t.Fatalf("%s: thumbnail is not a JPEG: %v", tt.name, err)
		}
		if b := thumb.Bounds(); b.Dx() != tt.tw || b.Dy() != tt.th {
			t.Errorf("%s: thumbnail %dx%d, want %dx%d", tt.name, b.Dx(), b.Dy(), tt.tw, tt.th)
		}
	}
	// WebP: dimensions from the header, no thumbnail (no decoder).
	info, err := media.Describe(vocab.ContentImage, false, "", mediatest.WebPExtended(512, 300), nil)
	if err != nil || info.Width != 512 || info.Height != 300 || info.Thumbnail != nil || info.Mimetype != "image/webp" {
		t.Errorf("webp image: %+v, %v; want 512x300 image/webp without a thumbnail", info, err)
	}
	// Not an image: nothing known, no error.
	info, err = media.Describe(vocab.ContentImage, false, "image/jpeg", []byte("not an image"), nil)
	if err != nil || info.Width != 0 || info.Thumbnail != nil {
		t.Errorf("garbage image: %+v, %v", info, err)
	}
}

func TestStickersAreWebP(t *testing.T) {
	t.Parallel()
	info, err := media.Describe(vocab.ContentSticker, false, "image/png", mediatest.WebP(), nil)
	if err != nil || info.Mimetype != "image/webp" || info.Width != 1 || info.Height != 1 {
		t.Errorf("lossless webp sticker: %+v, %v", info, err)
	}
	if w, h, ok := media.WebPSize(mediatest.WebPExtended(512, 512)); !ok || w != 512 || h != 512 {
		t.Errorf("extended webp: %dx%d %v", w, h, ok)
	}
	lossy := []byte("RIFF\x22\x00\x00\x00WEBPVP8 \x16\x00\x00\x00\x30\x01\x00\x9d\x01\x2a\x01\x00\x01\x00\x0e\xc0\xfe\x25\xa4\x00\x03\x70\x00\x00\x00\x00")
	if w, h, ok := media.WebPSize(lossy); !ok || w != 1 || h != 1 {
		t.Errorf("lossy webp: %dx%d %v", w, h, ok)
	}
	if _, err := media.Describe(vocab.ContentSticker, false, "", mediatest.PNG(8, 8), nil); !errors.Is(err, media.ErrNotWebP) {
		t.Errorf("png sticker: %v, want ErrNotWebP", err)
	}
}

func TestVoiceNoteDurationAndWaveform(t *testing.T) {
	t.Parallel()
	// 7 s: quiet, loud, quiet
	var sizes []int
	for i := range 350 {
		n := 8
		if i >= 100 && i < 250 {
			n = 120
		}
		sizes = append(sizes, n)
	}
	ogg := mediatest.OggOpus(sizes)
	d, ok := media.OggOpusDuration(ogg)
	if want := time.Duration(mediatest.OpusSeconds(sizes) * float64(time.Second)); !ok || d != want {
		t.Fatalf("duration %s %v, want %s", d, ok, want)
	}
	info, err := media.Describe(vocab.ContentAudio, true, "audio/ogg", ogg, nil)
	if err != nil || info.Seconds != 7 || info.Mimetype != media.VoiceNoteMimetype || len(info.Waveform) != media.WaveformLen {
		t.Fatalf("voice note %+v, %v; want 7 s of opus with a waveform", info, err)
	}
	w := info.Waveform
	for i, v := range w {
		if v > 100 {
			t.Fatalf("waveform[%d] = %d, over 100", i, v)
		}
	}
	if !(w[5] < 20 && w[32] > 90 && w[60] < 20) {
		t.Errorf("waveform %v does not follow quiet-loud-quiet", w)
	}
	// Plain audio: a duration, no waveform.
	info, _ = media.Describe(vocab.ContentAudio, false, "", ogg, nil)
	if info.Seconds != 7 || info.Waveform != nil || info.Mimetype != "audio/ogg" {
		t.Errorf("audio %+v", info)
	}
	// Not Ogg: no duration, a flat waveform.
	info, _ = media.Describe(vocab.ContentAudio, true, "", []byte("ID3 not ogg"), nil)
	if info.Seconds != 0 || len(info.Waveform) != media.WaveformLen || info.Waveform[0] != 50 {
		t.Errorf("mp3 voice note %+v", info)
	}
}

func TestVideoDurationDimensionsAndThumbnail(t *testing.T) {
	t.Parallel()
	mp4 := mediatest.MP4(12500, 1280, 720)
	if d, ok := media.MP4Duration(mp4); !ok || d != 12500*time.Millisecond {
		t.Fatalf("mp4 duration %s %v", d, ok)
	}
	info, err := media.Describe(vocab.ContentVideo, false, "", mp4, mediatest.PNG(320, 180))
	if err != nil || info.Seconds != 13 || info.Width != 1280 || info.Height != 720 || info.Mimetype != "video/mp4" {
		t.Fatalf("video %+v, %v", info, err)
	}
	if img, err := jpeg.Decode(bytes.NewReader(info.Thumbnail)); err != nil || img.Bounds().Dx() != 72 {
		t.Fatalf("video thumbnail: %v", err)
	}
	info, err = media.Describe(vocab.ContentVideo, false, "", mp4, nil)
	if err != nil || info.Thumbnail != nil || info.Seconds != 13 {
		t.Errorf("video without thumbnail: %+v, %v", info, err)
	}
	if _, err := media.Describe(vocab.ContentVideo, false, "", mp4, []byte("nope")); !errors.Is(err, media.ErrBadThumbnail) {
		t.Errorf("bad thumbnail: %v", err)
	}
}

// Garbage and truncated files never panic and yield nothing known.
func TestTruncatedFiles(t *testing.T) {
	t.Parallel()
	samples := [][]byte{mediatest.OggOpus([]int{10, 20, 30}), mediatest.MP4(1000, 2, 2), mediatest.WebP(),
		mediatest.WebPExtended(9, 9), mediatest.PNG(3, 3)}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range samples {
		for n := range len(s) {
			cut := append([]byte(nil), s[:n]...)
			if n > 0 {
				cut[rng.IntN(n)] ^= byte(rng.IntN(256))
			}
			for _, kind := range vocab.MediaKinds {
				_, _ = media.Describe(kind, true, "", cut, cut)
			}
		}
	}
}

func FuzzDescribe(f *testing.F) {
	f.Add(mediatest.OggOpus([]int{10, 300, 5}))
	f.Add(mediatest.MP4(1000, 4, 4))
	f.Add(mediatest.WebP())
	f.Add(mediatest.GIF(2, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range vocab.MediaKinds {
			info, _ := media.Describe(kind, true, "", data, data)
			for _, v := range info.Waveform {
				if v > 100 {
					t.Fatalf("waveform point %d", v)
				}
			}
		}
	})
}

// BenchmarkDescribeImage is the cost per photo of what a phone needs: a
// 1920x1080 JPEG decoded and shrunk to a thumbnail.
func BenchmarkDescribeImage(b *testing.B) {
	img := mediatest.JPEG(1920, 1080)
	b.SetBytes(int64(len(img)))
	for b.Loop() {
		if _, err := media.Describe(vocab.ContentImage, false, "", img, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeVoiceNote reads a minute of Ogg/Opus: duration and
// waveform.
func BenchmarkDescribeVoiceNote(b *testing.B) {
	sizes := make([]int, 3000)
	for i := range sizes {
		sizes[i] = 40 + i%80
	}
	ogg := mediatest.OggOpus(sizes)
	b.SetBytes(int64(len(ogg)))
	for b.Loop() {
		if _, err := media.Describe(vocab.ContentAudio, true, "", ogg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJPEG is the standard library's decode alone, for
// comparison with BenchmarkDescribeImage.
func BenchmarkDecodeJPEG(b *testing.B) {
	img := mediatest.JPEG(1920, 1080)
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			b.Fatal(err)
		}
	}
}
