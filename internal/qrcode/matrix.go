package qrcode

// BCH parameters for the format and version information.
const (
	formatPoly = 0x537  // x^10 + x^8 + x^5 + x^4 + x^2 + x + 1
	formatXor  = 0x5412 // mask applied to the 15 format bits
	versionPly = 0x1F25 // x^12 + x^11 + x^10 + x^9 + x^8 + x^5 + x^2 + 1
	levelMBits = 0b00   // error-correction level M in the format bits
)

// matrix is a square module grid under construction. fixed marks
// function modules, which neither hold data nor take the mask.
type matrix struct {
	size  int
	dark  []bool
	fixed []bool
}

// newMatrix returns the grid of a version with every function pattern
// drawn and the format area reserved (format bits are drawn per mask).
func newMatrix(version int) *matrix {
	size := symbolSize(version)
	m := &matrix{size: size, dark: make([]bool, size*size), fixed: make([]bool, size*size)}
	m.drawTiming()
	m.drawFinders()
	m.drawAlignments(alignmentPositions(version))
	m.drawFormat(0)
	m.drawVersion(version)
	return m
}

// set stores a function module.
func (m *matrix) set(x, y int, dark bool) {
	m.dark[y*m.size+x] = dark
	m.fixed[y*m.size+x] = true
}

// clone returns an independent copy of m.
func (m *matrix) clone() *matrix {
	return &matrix{
		size:  m.size,
		dark:  append([]bool(nil), m.dark...),
		fixed: append([]bool(nil), m.fixed...),
	}
}

// drawTiming draws the alternating timing lines along row and column 6.
func (m *matrix) drawTiming() {
	for i := range m.size {
		m.set(6, i, i%2 == 0)
		m.set(i, 6, i%2 == 0)
	}
}

// drawFinders draws the three finder patterns with their light separators.
func (m *matrix) drawFinders() {
	far := m.size - 4
	m.drawFinder(3, 3)
	m.drawFinder(far, 3)
	m.drawFinder(3, far)
}

// drawFinder draws a 7×7 finder centred on (cx, cy) and the one-module
// light ring around it, clipped to the symbol.
func (m *matrix) drawFinder(cx, cy int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			x, y := cx+dx, cy+dy
			if x < 0 || y < 0 || x >= m.size || y >= m.size {
				continue
			}
			ring := max(abs(dx), abs(dy))
			m.set(x, y, ring != 2 && ring != 4)
		}
	}
}

// drawAlignments draws an alignment pattern at every pair of positions
// except the three that would overlap the finder patterns.
func (m *matrix) drawAlignments(pos []int) {
	last := len(pos) - 1
	for i, y := range pos {
		for j, x := range pos {
			corner := (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0)
			if !corner {
				m.drawAlignment(x, y)
			}
		}
	}
}

// drawAlignment draws a 5×5 alignment pattern centred on (cx, cy).
func (m *matrix) drawAlignment(cx, cy int) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			m.set(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
		}
	}
}

// drawFormat draws both copies of the 15 format bits for level M and the
// mask, plus the always-dark module beside the lower-left finder.
func (m *matrix) drawFormat(mask int) {
	bits := formatBits(mask)
	bit := func(i int) bool { return bits>>i&1 != 0 }
	for i := range 6 {
		m.set(8, i, bit(i))
		m.set(14-(i+9), 8, bit(i+9))
	}
	m.set(8, 7, bit(6))
	m.set(8, 8, bit(7))
	m.set(7, 8, bit(8))
	for i := range 8 {
		m.set(m.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		m.set(8, m.size-15+i, bit(i))
	}
	m.set(8, m.size-8, true)
}

// drawVersion draws both 6×3 version information blocks (version 7 up).
func (m *matrix) drawVersion(version int) {
	if version < 7 {
		return
	}
	bits := versionBits(version)
	for i := range 18 {
		dark := bits>>i&1 != 0
		a, b := m.size-11+i%3, i/3
		m.set(a, b, dark)
		m.set(b, a, dark)
	}
}

// formatBits returns the 15-bit format information for level M and the
// mask: 5 data bits, 10 BCH check bits, XORed with formatXor.
func formatBits(mask int) uint32 {
	data := uint32(levelMBits<<3 | mask)
	return (data<<10 | bchRemainder(data<<10, formatPoly)) ^ formatXor
}

// versionBits returns the 18-bit version information: 6 version bits
// followed by 12 BCH check bits.
func versionBits(version int) uint32 {
	data := uint32(version)
	return data<<12 | bchRemainder(data<<12, versionPly)
}

// bchRemainder returns value modulo the binary polynomial poly.
func bchRemainder(value, poly uint32) uint32 {
	degree := bitLen(poly) - 1
	for n := bitLen(value) - 1; n >= degree; n-- {
		if value>>n&1 != 0 {
			value ^= poly << (n - degree)
		}
	}
	return value
}

// bitLen returns the number of bits needed to represent v.
func bitLen(v uint32) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}

// abs returns the absolute value of v.
func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// dataPositions returns the indexes of the non-function modules in the
// order codeword bits are placed: two-module-wide columns from the right
// edge, alternately upwards and downwards, skipping the timing column.
func (m *matrix) dataPositions() []int {
	pos := make([]int, 0, len(m.dark))
	upward := true
	for right := m.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		pos = m.appendColumnPair(pos, right, upward)
		upward = !upward
	}
	return pos
}

// appendColumnPair appends the free modules of columns right and right-1,
// right first on each row, walking the rows in the given direction.
func (m *matrix) appendColumnPair(pos []int, right int, upward bool) []int {
	for step := range m.size {
		y := step
		if upward {
			y = m.size - 1 - step
		}
		for x := right; x >= right-1; x-- {
			if i := y*m.size + x; !m.fixed[i] {
				pos = append(pos, i)
			}
		}
	}
	return pos
}

// placeCodewords writes the codeword bits, most significant bit first,
// into the data modules. Modules left over are remainder bits (light).
func (m *matrix) placeCodewords(cw []byte) {
	for n, i := range m.dataPositions() {
		if n/8 >= len(cw) {
			return
		}
		m.dark[i] = cw[n/8]>>(7-n%8)&1 != 0
	}
}
