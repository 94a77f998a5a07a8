package qrcode

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
)

func TestFormatBits(t *testing.T) {
	// Level M rows of the ISO/IEC 18004 format information table.
	want := []uint32{
		0b101010000010010, 0b101000100100101, 0b101111001111100, 0b101101101001011,
		0b100010111111001, 0b100000011001110, 0b100111110010111, 0b100101010100000,
	}
	for mask, w := range want {
		if got := formatBits(mask); got != w {
			t.Errorf("formatBits(%d) = %015b, want %015b", mask, got, w)
		}
	}
}

func TestVersionBits(t *testing.T) {
	tests := []struct {
		version int
		want    uint32
	}{
		{7, 0b000111110010010100}, {8, 0b001000010110111100},
		{21, 0b010101011010000011}, {40, 0b101000110001101001},
	}
	for _, tt := range tests {
		if got := versionBits(tt.version); got != tt.want {
			t.Errorf("versionBits(%d) = %018b, want %018b", tt.version, got, tt.want)
		}
	}
}

func TestFunctionPatternsInEncodedSymbol(t *testing.T) {
	c, err := Encode([]byte("function patterns, version 7 or more: " + string(make([]byte, 120))))
	if err != nil {
		t.Fatal(err)
	}
	if c.Version < 7 {
		t.Fatalf("version %d, want >= 7", c.Version)
	}
	n := c.Size
	for _, o := range [][2]int{{0, 0}, {n - 7, 0}, {0, n - 7}} {
		checkFinder(t, c, o[0], o[1])
	}
	for i := 8; i < n-8; i++ {
		if c.Dark(i, 6) != (i%2 == 0) || c.Dark(6, i) != (i%2 == 0) {
			t.Errorf("timing pattern wrong at %d", i)
		}
	}
	if !c.Dark(8, n-8) {
		t.Error("dark module missing")
	}
	bits := versionBits(c.Version)
	for i := range 18 {
		want := bits>>i&1 != 0
		if c.Dark(n-11+i%3, i/3) != want || c.Dark(i/3, n-11+i%3) != want {
			t.Errorf("version bit %d wrong", i)
		}
	}
}

// checkFinder checks the 7×7 finder at (x0, y0) and its light separator.
func checkFinder(t *testing.T, c *Code, x0, y0 int) {
	t.Helper()
	for dy := -1; dy <= 7; dy++ {
		for dx := -1; dx <= 7; dx++ {
			ring := max(abs(dx-3), abs(dy-3))
			if got := c.Dark(x0+dx, y0+dy); got != (ring != 2 && ring != 4) {
				t.Errorf("finder at (%d,%d): module (%d,%d) dark = %v", x0, y0, dx, dy, got)
			}
		}
	}
}

// The format information must be readable from both copies, name level M
// and the same mask.
func TestFormatInfoBothCopiesAgree(t *testing.T) {
	for _, n := range []int{1, 30, 100, 400} {
		c, err := Encode(bytes.Repeat([]byte("ab"), n))
		if err != nil {
			t.Fatal(err)
		}
		first, second := readFormat(c)
		if first != second || (first^formatXor)>>13 != levelMBits {
			t.Errorf("%d bytes: format copies %015b and %015b", 2*n, first, second)
		}
		mask := int((first ^ formatXor) >> 10 & 7)
		if formatBits(mask) != first {
			t.Errorf("%d bytes: format %015b is not a valid codeword", 2*n, first)
		}
	}
}

// readFormat reads both 15-bit copies of the format information.
func readFormat(c *Code) (first, second uint32) {
	n := c.Size
	var a, b [15]bool
	for i := range 6 {
		a[i], a[i+9] = c.Dark(8, i), c.Dark(5-i, 8)
	}
	a[6], a[7], a[8] = c.Dark(8, 7), c.Dark(8, 8), c.Dark(7, 8)
	for i := range 8 {
		b[i] = c.Dark(n-1-i, 8)
	}
	for i := 8; i < 15; i++ {
		b[i] = c.Dark(8, n-15+i)
	}
	for i := range 15 {
		first |= boolBit(a[i]) << i
		second |= boolBit(b[i]) << i
	}
	return first, second
}

func boolBit(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

func TestLinePenalty(t *testing.T) {
	tests := []struct {
		line string
		want int
	}{
		{"1010101010", 0},
		{"1111101010", 3},
		{"1111111010", 5},
		{"0000000000", 8},
		{"10111010000", 40},      // finder-like, four light after (a run of 4 is no N1)
		{"00001011101", 40},      // finder-like, four light before
		{"010111010", 40},        // light beyond both edges counts
		{"1101011101011", 0},     // no light margin at either side
		{"0000101110100001", 40}, // light on both sides still counts once
		{"11111011101", 3 + 40},  // run of five plus finder-like at the edge
	}
	for _, tt := range tests {
		line := make([]bool, len(tt.line))
		for i, ch := range tt.line {
			line[i] = ch == '1'
		}
		if got := linePenalty(line); got != tt.want {
			t.Errorf("linePenalty(%s) = %d, want %d", tt.line, got, tt.want)
		}
	}
}

func TestBlockAndRatioPenalty(t *testing.T) {
	m := &matrix{size: 3, dark: []bool{true, true, false, true, true, false, false, false, false}}
	if got := m.blockPenalty(); got != 3 {
		t.Errorf("blockPenalty = %d, want 3", got)
	}
	// 4 of 9 dark = 44.4%: deviation 5.6% is one full 5% step.
	if got := m.ratioPenalty(); got != 10 {
		t.Errorf("ratioPenalty = %d, want 10", got)
	}
	full := &matrix{size: 3, dark: []bool{true, true, true, true, true, true, true, true, true}}
	if got := full.blockPenalty() + full.ratioPenalty(); got != 4*3+100 {
		t.Errorf("all-dark penalty = %d, want 112", got)
	}
}

func TestMaskHit(t *testing.T) {
	// Module (x=4, y=3) under each mask, evaluated by hand from table 10.
	want := []bool{false, false, false, false, true, true, true, false}
	for mask, w := range want {
		if got := maskHit(mask, 4, 3); got != w {
			t.Errorf("maskHit(%d, 4, 3) = %v, want %v", mask, got, w)
		}
	}
}

func TestEncodeIsDeterministic(t *testing.T) {
	a, _ := Encode([]byte("same input"))
	b, _ := Encode([]byte("same input"))
	if !slicesEqualBool(a.modules, b.modules) {
		t.Error("two encodings of the same input differ")
	}
}

func slicesEqualBool(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDarkOutsideSymbol(t *testing.T) {
	c, _ := Encode([]byte("x"))
	for _, p := range [][2]int{{-1, 0}, {0, -1}, {c.Size, 0}, {0, c.Size}, {-100, 1 << 40}} {
		if c.Dark(p[0], p[1]) {
			t.Errorf("Dark(%d, %d) = true outside the symbol", p[0], p[1])
		}
	}
	var nilCode *Code
	if nilCode.Dark(0, 0) || (&Code{Size: 21}).Dark(0, 0) {
		t.Error("nil or empty Code reports a dark module")
	}
}

func TestPNGDimensionsAndPixels(t *testing.T) {
	c, err := Encode([]byte("2@pixels,check"))
	if err != nil {
		t.Fatal(err)
	}
	for _, scale := range []int{1, 3, 8, MaxScale} {
		img := decodePNG(t, c, scale)
		side := (c.Size + 8) * scale
		if b := img.Bounds(); b.Dx() != side || b.Dy() != side {
			t.Fatalf("scale %d: image %v, want %d×%d", scale, b, side, side)
		}
		for py := 0; py < side; py += max(1, scale/2) {
			for px := 0; px < side; px += max(1, scale/2) {
				r, _, _, _ := img.At(px, py).RGBA()
				if dark := c.Dark(px/scale-4, py/scale-4); dark != (r == 0) {
					t.Fatalf("scale %d: pixel (%d,%d) red=%d, module dark=%v", scale, px, py, r, dark)
				}
			}
		}
	}
}

func decodePNG(t *testing.T, c *Code, scale int) image.Image {
	t.Helper()
	data, err := c.PNG(scale)
	if err != nil {
		t.Fatalf("PNG(%d): %v", scale, err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode PNG: %v", err)
	}
	return img
}

func TestPNGErrors(t *testing.T) {
	c, _ := Encode([]byte("scale"))
	for _, scale := range []int{0, -1, MaxScale + 1, 1 << 40} {
		if _, err := c.PNG(scale); !errors.Is(err, ErrInvalidScale) {
			t.Errorf("Code.PNG(%d) error = %v, want ErrInvalidScale", scale, err)
		}
		if _, err := PNG("scale", scale); !errors.Is(err, ErrInvalidScale) {
			t.Errorf("PNG(%d) error = %v, want ErrInvalidScale", scale, err)
		}
	}
	var nilCode *Code
	for _, bad := range []*Code{nilCode, {}, {Size: 1 << 30, Version: 40}, {Size: 21, Version: 1}} {
		if _, err := bad.PNG(4); !errors.Is(err, ErrInvalidCode) {
			t.Errorf("PNG of %+v: error = %v, want ErrInvalidCode", bad, err)
		}
	}
}
