package qrcode

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
)

// Rendering limits.
const (
	// QuietZone is the light border, in modules, drawn around the symbol.
	QuietZone = 4

	// MaxScale is the largest accepted scale; at this scale a version 40
	// symbol is 5920 pixels per side.
	MaxScale = 32
)

// PNG renders the symbol as a two-colour (black and white, 1 bit per pixel)
// PNG with a QuietZone-module light border on every side, scale pixels per
// module; the image is (Size+2×QuietZone)×scale pixels per side. It returns
// ErrInvalidScale when scale is below 1 or above MaxScale, ErrInvalidCode
// when c was not produced by Encode, or the image/png encoding error.
func (c *Code) PNG(scale int) ([]byte, error) {
	if !c.valid() {
		return nil, fmt.Errorf("render png: %w", ErrInvalidCode)
	}
	if scale < 1 || scale > MaxScale {
		return nil, fmt.Errorf("render png at scale %d: %w", scale, ErrInvalidScale)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, c.image(scale)); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// image draws the symbol with its quiet zone at scale pixels per module.
// Palette index 0 is white and 1 is black.
func (c *Code) image(scale int) *image.Paletted {
	side := (c.Size + 2*QuietZone) * scale
	palette := color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}}
	img := image.NewPaletted(image.Rect(0, 0, side, side), palette)
	for py := range side {
		row := img.Pix[py*img.Stride : py*img.Stride+side]
		y := py/scale - QuietZone
		for px := range row {
			if c.Dark(px/scale-QuietZone, y) {
				row[px] = 1
			}
		}
	}
	return img
}

// PNG encodes text with Encode and renders it with Code.PNG at scale pixels
// per module. It returns ErrTooLong when text is longer than MaxBytes bytes
// and ErrInvalidScale when scale is below 1 or above MaxScale.
func PNG(text string, scale int) ([]byte, error) {
	if scale < 1 || scale > MaxScale {
		return nil, fmt.Errorf("render png at scale %d: %w", scale, ErrInvalidScale)
	}
	code, err := Encode([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("render png: %w", err)
	}
	return code.PNG(scale)
}
