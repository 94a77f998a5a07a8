// Package mediatest makes sample attachments for tests: real files of each
// format the gateway reads (Ogg/Opus, MP4, WebP, JPEG, PNG, GIF), built
// here so that no binary sample is checked in. It is a test tool, imported
// only from _test.go files.
package mediatest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
)

// picture is a w×h gradient, so that a thumbnail of it is not uniform.
func picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{R: uint8(255 * x / w), G: uint8(255 * y / h), B: 128, A: 255})
		}
	}
	return img
}

// JPEG is a w×h JPEG image.
func JPEG(w, h int) []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, picture(w, h), nil)
	return b.Bytes()
}

// PNG is a w×h PNG image.
func PNG(w, h int) []byte {
	var b bytes.Buffer
	_ = png.Encode(&b, picture(w, h))
	return b.Bytes()
}

// GIF is a w×h GIF image.
func GIF(w, h int) []byte {
	var b bytes.Buffer
	_ = gif.Encode(&b, picture(w, h), nil)
	return b.Bytes()
}

// WebP is a 1×1 lossless WebP image that decoders read (the one browsers'
// feature tests use).
func WebP() []byte {
	b, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	return b
}

// WebPExtended is the header of an extended (VP8X) WebP of w×h with an
// empty image, for reading its dimensions.
func WebPExtended(w, h int) []byte {
	vp8x := []byte{0, 0, 0, 0, byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16), byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(4+8+len(vp8x)))
	b.WriteString("WEBPVP8X")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(vp8x)))
	b.Write(vp8x)
	return b.Bytes()
}
