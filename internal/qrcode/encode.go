package qrcode

import "fmt"

// Code is an encoded QR symbol: a square of Size×Size modules, not counting
// the quiet zone. Create one with Encode.
type Code struct {
	// Size is the number of modules per side, 17+4×Version.
	Size int
	// Version is the symbol version, 1 to 40.
	Version int

	modules []bool // row-major, true is dark
}

// Encode encodes data in byte mode at error-correction level M, in the
// smallest version (1 to 40) that holds it, with the mask pattern that
// scores the lowest penalty. It returns ErrTooLong when data is longer than
// MaxBytes. Empty data is valid and yields a version 1 symbol.
func Encode(data []byte) (*Code, error) {
	version, err := chooseVersion(len(data))
	if err != nil {
		return nil, fmt.Errorf("encode %d bytes: %w", len(data), err)
	}
	m := newMatrix(version)
	m.placeCodewords(codewords(data, version))
	best := bestMasked(m)
	return &Code{Size: best.size, Version: version, modules: best.dark}, nil
}

// Dark reports whether the module in column x, row y is dark, where (0, 0)
// is the symbol's top-left module (the quiet zone is not counted). Any
// coordinate outside [0, Size) is light, as is every module of a nil Code.
// Dark returns no error.
func (c *Code) Dark(x, y int) bool {
	if c == nil || x < 0 || y < 0 || x >= c.Size || y >= c.Size {
		return false
	}
	i := y*c.Size + x
	return i < len(c.modules) && c.modules[i]
}

// valid reports whether c is a symbol as built by Encode.
func (c *Code) valid() bool {
	return c != nil && c.Version >= minVersion && c.Version <= maxVersion &&
		c.Size == symbolSize(c.Version) && len(c.modules) == c.Size*c.Size
}
