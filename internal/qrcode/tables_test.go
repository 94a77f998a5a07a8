package qrcode

import (
	"errors"
	"slices"
	"testing"
)

// Byte-mode capacities at level M, versions 1-40 (ISO/IEC 18004 table 7).
var specCapacityM = []int{
	14, 26, 42, 62, 84, 106, 122, 152, 180, 213,
	251, 287, 331, 362, 412, 450, 504, 560, 624, 666,
	711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370,
	1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
}

// Total codewords per version (ISO/IEC 18004 table 1).
var specTotalCodewords = []int{
	26, 44, 70, 100, 134, 172, 196, 242, 292, 346,
	404, 466, 532, 581, 655, 733, 815, 901, 991, 1085,
	1156, 1258, 1364, 1474, 1588, 1706, 1828, 1921, 2051, 2185,
	2323, 2465, 2611, 2761, 2876, 3034, 3196, 3362, 3532, 3706,
}

// Alignment pattern centres per version (ISO/IEC 18004 annex E).
var specAlignment = [][]int{
	nil, {6, 18}, {6, 22}, {6, 26}, {6, 30}, {6, 34},
	{6, 22, 38}, {6, 24, 42}, {6, 26, 46}, {6, 28, 50}, {6, 30, 54},
	{6, 32, 58}, {6, 34, 62}, {6, 26, 46, 66}, {6, 26, 48, 70},
	{6, 26, 50, 74}, {6, 30, 54, 78}, {6, 30, 56, 82}, {6, 30, 58, 86},
	{6, 34, 62, 90}, {6, 28, 50, 72, 94}, {6, 26, 50, 74, 98},
	{6, 30, 54, 78, 102}, {6, 28, 54, 80, 106}, {6, 32, 58, 84, 110},
	{6, 30, 58, 86, 114}, {6, 34, 62, 90, 118}, {6, 26, 50, 74, 98, 122},
	{6, 30, 54, 78, 102, 126}, {6, 26, 52, 78, 104, 130},
	{6, 30, 56, 82, 108, 134}, {6, 34, 60, 86, 112, 138},
	{6, 30, 58, 86, 114, 142}, {6, 34, 62, 90, 118, 146},
	{6, 30, 54, 78, 102, 126, 150}, {6, 24, 50, 76, 102, 128, 154},
	{6, 28, 54, 80, 106, 132, 158}, {6, 32, 58, 84, 110, 136, 162},
	{6, 26, 54, 82, 110, 138, 166}, {6, 30, 58, 86, 114, 142, 170},
}

func TestByteCapacityMatchesSpec(t *testing.T) {
	for v := minVersion; v <= maxVersion; v++ {
		if got, want := byteCapacity(v), specCapacityM[v-1]; got != want {
			t.Errorf("byteCapacity(%d) = %d, want %d", v, got, want)
		}
	}
	if got := byteCapacity(maxVersion); got != MaxBytes {
		t.Errorf("byteCapacity(40) = %d, MaxBytes = %d", got, MaxBytes)
	}
}

func TestTotalCodewordsMatchesSpec(t *testing.T) {
	for v := minVersion; v <= maxVersion; v++ {
		if got, want := totalCodewords(v), specTotalCodewords[v-1]; got != want {
			t.Errorf("totalCodewords(%d) = %d, want %d", v, got, want)
		}
	}
}

func TestAlignmentPositionsMatchSpec(t *testing.T) {
	for v := minVersion; v <= maxVersion; v++ {
		if got, want := alignmentPositions(v), specAlignment[v-1]; !slices.Equal(got, want) {
			t.Errorf("alignmentPositions(%d) = %v, want %v", v, got, want)
		}
	}
}

// The modules newMatrix leaves free must be exactly the ones
// rawDataModules counts, or codewords would be cut short or misplaced.
func TestFreeModulesMatchRawDataModules(t *testing.T) {
	for v := minVersion; v <= maxVersion; v++ {
		m := newMatrix(v)
		if got, want := len(m.dataPositions()), rawDataModules(v); got != want {
			t.Errorf("version %d: %d free modules, want %d", v, got, want)
		}
	}
}

func TestChooseVersionAtBoundaries(t *testing.T) {
	tests := []struct{ n, want int }{
		{0, 1}, {1, 1}, {14, 1}, {15, 2}, {26, 2}, {27, 3}, {42, 3}, {43, 4},
		{62, 4}, {63, 5}, {84, 5}, {85, 6}, {213, 10}, {214, 11},
		{250, 11}, {2331, 40},
	}
	for _, tt := range tests {
		got, err := chooseVersion(tt.n)
		if err != nil || got != tt.want {
			t.Errorf("chooseVersion(%d) = %d, %v; want %d", tt.n, got, err, tt.want)
		}
	}
	for v, capacity := range specCapacityM {
		if got, _ := chooseVersion(capacity); got != v+1 {
			t.Errorf("chooseVersion(%d) = %d, want %d", capacity, got, v+1)
		}
	}
}

func TestEncodeVersionForKnownLengths(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{14, 1}, {26, 2}, {42, 3}, {62, 4}, {84, 5}, {213, 10}, {2331, 40},
		{15, 2}, {27, 3}, {43, 4}, {63, 5}, {85, 6}, {214, 11},
	} {
		c, err := Encode(make([]byte, tt.n))
		if err != nil {
			t.Fatalf("Encode(%d bytes): %v", tt.n, err)
		}
		if c.Version != tt.want || c.Size != 17+4*tt.want {
			t.Errorf("Encode(%d bytes): version %d size %d, want version %d", tt.n, c.Version, c.Size, tt.want)
		}
	}
}

func TestEncodeTooLong(t *testing.T) {
	for _, n := range []int{MaxBytes + 1, 3000, 1 << 20} {
		c, err := Encode(make([]byte, n))
		if !errors.Is(err, ErrTooLong) || c != nil {
			t.Errorf("Encode(%d bytes) = %v, %v; want nil, ErrTooLong", n, c, err)
		}
	}
	if _, err := PNG(string(make([]byte, MaxBytes+1)), 4); !errors.Is(err, ErrTooLong) {
		t.Errorf("PNG(too long) error = %v, want ErrTooLong", err)
	}
}
