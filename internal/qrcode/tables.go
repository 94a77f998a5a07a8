package qrcode

// Version limits and the capacity of the largest symbol.
const (
	minVersion = 1
	maxVersion = 40

	// MaxBytes is the most data Encode accepts: the byte-mode capacity of a
	// version 40 symbol at error-correction level M.
	MaxBytes = 2331
)

// eccPerBlock returns how many error-correction codewords each
// Reed-Solomon block of the version carries at level M (ISO/IEC 18004
// table 9). The version must be in [minVersion, maxVersion].
func eccPerBlock(version int) int {
	table := [maxVersion + 1]int{0,
		10, 16, 26, 18, 24, 16, 18, 22, 22, 26, // 1-10
		30, 22, 22, 24, 24, 28, 28, 26, 26, 26, // 11-20
		26, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 21-30
		28, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 31-40
	}
	return table[version]
}

// numBlocks returns how many Reed-Solomon blocks the version's codewords
// are split into at level M (ISO/IEC 18004 table 9). The version must be
// in [minVersion, maxVersion].
func numBlocks(version int) int {
	table := [maxVersion + 1]int{0,
		1, 1, 1, 2, 2, 4, 4, 4, 5, 5, // 1-10
		5, 8, 9, 9, 10, 10, 11, 13, 14, 16, // 11-20
		17, 17, 18, 20, 21, 23, 25, 26, 28, 29, // 21-30
		31, 33, 35, 37, 38, 40, 43, 45, 47, 49, // 31-40
	}
	return table[version]
}

// symbolSize returns the number of modules per side of a version.
func symbolSize(version int) int {
	return 17 + 4*version
}

// alignmentCount returns how many alignment-pattern coordinates a version
// uses along each axis (zero for version 1).
func alignmentCount(version int) int {
	if version < 2 {
		return 0
	}
	return version/7 + 2
}

// alignmentPositions returns the row/column coordinates of the alignment
// pattern centres (ISO/IEC 18004 annex E). The first is always 6 and the
// last is 7 modules from the far edge; the others are evenly spaced from
// the last one backwards with an even step, rounded up. Version 32 is the
// one version where the standard uses a step one notch smaller (26, not 28).
func alignmentPositions(version int) []int {
	n := alignmentCount(version)
	if n == 0 {
		return nil
	}
	last := symbolSize(version) - 7
	step := alignmentStep(last-6, n-1)
	if version == 32 {
		step = 26
	}
	pos := make([]int, n)
	pos[0] = 6
	for i := n - 1; i > 0; i-- {
		pos[i] = last - (n-1-i)*step
	}
	return pos
}

// alignmentStep returns span/intervals rounded up to the next even number.
func alignmentStep(span, intervals int) int {
	step := (span + intervals - 1) / intervals
	return step + step%2
}

// rawDataModules returns how many modules of a version are left for
// codewords once the function patterns are drawn: finders with separators
// and format areas, timing lines, alignment patterns and version blocks.
func rawDataModules(version int) int {
	size := symbolSize(version)
	modules := size*size - 3*64 - 31 - 2*(size-16)
	if n := alignmentCount(version); n > 0 {
		modules -= 25*(n*n-3) - 2*5*(n-2)
	}
	if version >= 7 {
		modules -= 2 * 18
	}
	return modules
}

// totalCodewords returns the number of 8-bit codewords (data plus
// error correction) a version holds; leftover modules are remainder bits.
func totalCodewords(version int) int {
	return rawDataModules(version) / 8
}

// dataCodewords returns how many data codewords a version holds at level M.
func dataCodewords(version int) int {
	return totalCodewords(version) - numBlocks(version)*eccPerBlock(version)
}

// countBits returns the width of the byte-mode character count indicator.
func countBits(version int) int {
	if version <= 9 {
		return 8
	}
	return 16
}

// byteCapacity returns how many bytes of byte-mode data fit in a version at
// level M, after the 4-bit mode indicator and the character count.
func byteCapacity(version int) int {
	return (dataCodewords(version)*8 - 4 - countBits(version)) / 8
}

// chooseVersion returns the smallest version whose capacity holds n bytes.
// It returns ErrTooLong when even version 40 is too small.
func chooseVersion(n int) (int, error) {
	for v := minVersion; v <= maxVersion; v++ {
		if n <= byteCapacity(v) {
			return v, nil
		}
	}
	return 0, ErrTooLong
}
