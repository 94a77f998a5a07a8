package qrcode

// gfPoly is the reducing polynomial of the QR code's GF(2^8):
// x^8 + x^4 + x^3 + x^2 + 1, without its x^8 term.
const gfPoly = 0x1d

// gfMul multiplies two elements of GF(2^8) by shift-and-add, reducing by
// gfPoly whenever the product overflows eight bits.
func gfMul(a, b byte) byte {
	var product byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			product ^= a
		}
		overflow := a&0x80 != 0
		a <<= 1
		if overflow {
			a ^= gfPoly
		}
	}
	return product
}

// rsGenerator returns the generator polynomial of degree n, the product of
// (x - α^i) for i in [0, n) with α = 2. Coefficients run from the highest
// power down, so the result has n+1 entries and starts with 1.
func rsGenerator(n int) []byte {
	gen := make([]byte, n+1)
	gen[0] = 1
	root := byte(1)
	for degree := 0; degree < n; degree++ {
		// Multiply by (x + root); in GF(2^8) subtraction is addition.
		for j := degree + 1; j > 0; j-- {
			gen[j] ^= gfMul(gen[j-1], root)
		}
		root = gfMul(root, 2)
	}
	return gen
}

// rsRemainder returns the len(gen)-1 error-correction codewords for data:
// the remainder of data(x)·x^n divided by the generator polynomial.
func rsRemainder(data, gen []byte) []byte {
	n := len(gen) - 1
	rem := make([]byte, n)
	for _, d := range data {
		factor := d ^ rem[0]
		copy(rem, rem[1:])
		rem[n-1] = 0
		for i := range rem {
			rem[i] ^= gfMul(gen[i+1], factor)
		}
	}
	return rem
}
