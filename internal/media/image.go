package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"

	// the formats Thumbnail and ImageSize read
	_ "image/gif"
	_ "image/png"
)

// ThumbnailSide is the longest side of a thumbnail, in pixels.
const ThumbnailSide = 72

// maxPixels bounds the images Thumbnail decodes (a small file can declare
// a huge canvas).
const maxPixels = 50 << 20

// ImageSize returns the dimensions of a JPEG, PNG, GIF or WebP image, read
// from its header; ok is false for anything else.
func ImageSize(data []byte) (width, height int, ok bool) {
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width > 0 && cfg.Height > 0 {
		return cfg.Width, cfg.Height, true
	}
	return WebPSize(data)
}

// Thumbnail decodes a JPEG, PNG or GIF image and returns a JPEG of it that
// fits ThumbnailSide, with the image's own dimensions. ok is false for
// other formats, undecodable data and images over 50 megapixels.
func Thumbnail(data []byte) (thumb []byte, width, height int, ok bool) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxPixels {
		return nil, 0, 0, false
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, false
	}
	var out bytes.Buffer
	if err := jpeg.Encode(&out, scale(img, ThumbnailSide), &jpeg.Options{Quality: 75}); err != nil {
		return nil, 0, 0, false
	}
	return out.Bytes(), cfg.Width, cfg.Height, true
}

// scale shrinks img to fit side×side (never enlarging it), averaging
// samples of the source pixels under each thumbnail pixel, on white (for
// transparency).
func scale(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tw, th := w, h
	if w > side || h > side {
		if w >= h {
			tw, th = side, max(1, h*side/w)
		} else {
			tw, th = max(1, w*side/h), side
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, tw, th))
	for y := range th {
		y0, y1 := b.Min.Y+y*h/th, b.Min.Y+max((y+1)*h/th, y*h/th+1)
		for x := range tw {
			x0, x1 := b.Min.X+x*w/tw, b.Min.X+max((x+1)*w/tw, x*w/tw+1)
			out.Set(x, y, average(img, x0, y0, x1, y1))
		}
	}
	return out
}

// average is the mean colour of img over [x0,x1)×[y0,y1), composed over
// white, from at most samples×samples pixels spread over the area (enough
// for a thumbnail, and a photo's millions of pixels cost little).
func average(img image.Image, x0, y0, x1, y1 int) color.RGBA {
	const samples = 4
	sx, sy := max(1, (x1-x0)/samples), max(1, (y1-y0)/samples)
	var r, g, bl, n uint64
	for y := y0 + sy/2; y < y1; y += sy {
		for x := x0 + sx/2; x < x1; x += sx {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			white := 0xffff - uint64(ca)
			r, g, bl, n = r+uint64(cr)+white, g+uint64(cg)+white, bl+uint64(cb)+white, n+1
		}
	}
	if n == 0 {
		return color.RGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	}
	return color.RGBA{R: uint8(r / n >> 8), G: uint8(g / n >> 8), B: uint8(bl / n >> 8), A: 0xff}
}

// WebPSize reads the canvas size of a WebP image from its header (lossy
// VP8, lossless VP8L or extended VP8X); ok is false for anything else.
func WebPSize(data []byte) (width, height int, ok bool) {
	if len(data) < 30 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return 0, 0, false
	}
	chunk := data[12:]
	switch string(chunk[0:4]) {
	case "VP8 ":
		// frame tag (3 bytes), start code 9d 01 2a, then 14-bit sizes
		f := chunk[8:]
		if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
			return 0, 0, false
		}
		width = int(binary.LittleEndian.Uint16(f[6:8]) & 0x3fff)
		height = int(binary.LittleEndian.Uint16(f[8:10]) & 0x3fff)
	case "VP8L":
		f := chunk[8:]
		if f[0] != 0x2f {
			return 0, 0, false
		}
		bits := binary.LittleEndian.Uint32(f[1:5])
		width, height = int(bits&0x3fff)+1, int(bits>>14&0x3fff)+1
	case "VP8X":
		f := chunk[8:]
		width = int(uint32(f[4])|uint32(f[5])<<8|uint32(f[6])<<16) + 1
		height = int(uint32(f[7])|uint32(f[8])<<8|uint32(f[9])<<16) + 1
	default:
		return 0, 0, false
	}
	return width, height, width > 0 && height > 0
}
