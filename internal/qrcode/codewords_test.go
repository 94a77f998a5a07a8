package qrcode

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// gfPow returns α^n in GF(2^8).
func gfPow(n int) byte {
	x := byte(1)
	for range n {
		x = gfMul(x, 2)
	}
	return x
}

// evalPoly evaluates a polynomial (highest power first) at x by Horner's rule.
func evalPoly(poly []byte, x byte) byte {
	var y byte
	for _, c := range poly {
		y = gfMul(y, x) ^ c
	}
	return y
}

func TestGFMul(t *testing.T) {
	tests := []struct{ a, b, want byte }{
		{0, 7, 0}, {1, 0x53, 0x53}, {2, 0x80, 0x1d}, {0x80, 0x80, 0x13}, {3, 7, 9},
	}
	for _, tt := range tests {
		if got := gfMul(tt.a, tt.b); got != tt.want {
			t.Errorf("gfMul(%#x, %#x) = %#x, want %#x", tt.a, tt.b, got, tt.want)
		}
	}
	// α has order 255: α^255 = 1 and no smaller positive power is 1.
	if gfPow(255) != 1 {
		t.Errorf("α^255 = %#x, want 1", gfPow(255))
	}
	for n := 1; n < 255; n++ {
		if gfPow(n) == 1 {
			t.Fatalf("α^%d = 1", n)
		}
	}
}

// A Reed-Solomon codeword (data followed by its ECC) is a multiple of the
// generator, so it must vanish at every generator root α^0..α^(n-1).
func TestReedSolomonCodewordVanishesAtRoots(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{7, 10, 16, 18, 22, 24, 26, 28, 30} {
		gen := rsGenerator(n)
		for trial := range 20 {
			data := make([]byte, 1+rng.IntN(150))
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			word := append(bytes.Clone(data), rsRemainder(data, gen)...)
			for i := range n {
				if y := evalPoly(word, gfPow(i)); y != 0 {
					t.Fatalf("degree %d trial %d: codeword(α^%d) = %#x, want 0", n, trial, i, y)
				}
			}
			// Corrupting one byte must break the property.
			word[rng.IntN(len(word))] ^= byte(1 + rng.UintN(255))
			if evalPoly(word, gfPow(0)) == 0 && evalPoly(word, gfPow(1)) == 0 {
				t.Fatalf("degree %d trial %d: corrupted codeword still vanishes", n, trial)
			}
		}
	}
}

// The version 1-M example of the Thonky QR tutorial ("HELLO WORLD").
func TestReedSolomonKnownVector(t *testing.T) {
	data := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	want := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	if got := rsRemainder(data, rsGenerator(10)); !bytes.Equal(got, want) {
		t.Errorf("rsRemainder = %v, want %v", got, want)
	}
}

func TestDataStream(t *testing.T) {
	// "hello" in version 1: 0100, count 00000101, five bytes, terminator,
	// then pad codewords up to the 16 data codewords of 1-M.
	want := []byte{0x40, 0x56, 0x86, 0x56, 0xc6, 0xc6, 0xf0,
		0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec}
	if got := dataStream([]byte("hello"), 1); !bytes.Equal(got, want) {
		t.Errorf("dataStream(hello, 1) = % x, want % x", got, want)
	}
	// Version 10 uses a 16-bit character count.
	got := dataStream([]byte{0xff}, 10)
	if !bytes.Equal(got[:4], []byte{0x40, 0x00, 0x1f, 0xf0}) || len(got) != dataCodewords(10) {
		t.Errorf("dataStream(ff, 10) = % x", got)
	}
	// A full version 1 leaves no room for a terminator or pad.
	full := dataStream(bytes.Repeat([]byte{0xff}, 14), 1)
	if len(full) != 16 || full[15] != 0xf0 {
		t.Errorf("dataStream(14 bytes, 1) = % x", full)
	}
}

func TestInterleaveLayout(t *testing.T) {
	// Version 5-M: two blocks of 43 data codewords and 24 ECC each.
	data := make([]byte, dataCodewords(5))
	for i := range data {
		data[i] = byte(i)
	}
	out := interleave(data, 5)
	if len(out) != totalCodewords(5) {
		t.Fatalf("len = %d, want %d", len(out), totalCodewords(5))
	}
	if !bytes.Equal(out[:6], []byte{0, 43, 1, 44, 2, 45}) {
		t.Errorf("interleaved start = %v", out[:6])
	}
	// Version 8-M: 2 blocks of 38 then 2 of 39; the extra codewords of the
	// long blocks come last, just before the ECC.
	data = make([]byte, dataCodewords(8))
	for i := range data {
		data[i] = byte(i)
	}
	out = interleave(data, 8)
	if got := out[152:154]; !bytes.Equal(got, []byte{38 + 38 + 38, 38 + 38 + 39 + 38}) {
		t.Errorf("long-block tail = %v, want [114 153]", got)
	}
}
