package qrcode

// Byte-mode stream constants.
const (
	modeByte  = 0b0100 // 4-bit mode indicator for byte mode
	padFirst  = 0xEC   // first alternating pad codeword
	padSecond = 0x11   // second alternating pad codeword
)

// bitBuffer accumulates a big-endian bit stream.
type bitBuffer struct {
	bytes []byte
	n     int // number of bits written
}

// write appends the low width bits of value, most significant first.
func (b *bitBuffer) write(value uint32, width int) {
	for i := width - 1; i >= 0; i-- {
		if b.n%8 == 0 {
			b.bytes = append(b.bytes, 0)
		}
		if value>>i&1 != 0 {
			b.bytes[b.n/8] |= 0x80 >> (b.n % 8)
		}
		b.n++
	}
}

// dataStream returns the data codewords of a version for data: mode
// indicator, character count, the bytes, the terminator, zero bits up to a
// byte boundary and alternating pad codewords. The data must fit.
func dataStream(data []byte, version int) []byte {
	capacity := dataCodewords(version)
	buf := &bitBuffer{bytes: make([]byte, 0, capacity)}
	buf.write(modeByte, 4)
	buf.write(uint32(len(data)), countBits(version))
	for _, d := range data {
		buf.write(uint32(d), 8)
	}
	buf.write(0, min(4, capacity*8-buf.n))
	buf.write(0, (8-buf.n%8)%8)
	for i := 0; len(buf.bytes) < capacity; i++ {
		buf.bytes = append(buf.bytes, padFor(i))
	}
	return buf.bytes
}

// padFor returns the i-th pad codeword.
func padFor(i int) byte {
	if i%2 == 0 {
		return padFirst
	}
	return padSecond
}

// splitBlocks cuts the data codewords into the version's Reed-Solomon
// blocks. Short blocks come first; when the codewords do not divide
// evenly, the last blocks each hold one extra data codeword.
func splitBlocks(data []byte, version int) [][]byte {
	count := numBlocks(version)
	shortLen := totalCodewords(version)/count - eccPerBlock(version)
	numShort := count - totalCodewords(version)%count
	blocks := make([][]byte, count)
	offset := 0
	for i := range blocks {
		n := shortLen
		if i >= numShort {
			n++
		}
		blocks[i] = data[offset : offset+n]
		offset += n
	}
	return blocks
}

// interleave computes each block's error-correction codewords and returns
// the final sequence: data codewords taken column by column across the
// blocks, then the error-correction codewords the same way.
func interleave(data []byte, version int) []byte {
	blocks := splitBlocks(data, version)
	gen := rsGenerator(eccPerBlock(version))
	ecc := make([][]byte, len(blocks))
	for i, b := range blocks {
		ecc[i] = rsRemainder(b, gen)
	}
	out := make([]byte, 0, totalCodewords(version))
	out = appendColumns(out, blocks)
	return appendColumns(out, ecc)
}

// appendColumns appends rows[0][i], rows[1][i], ... for i = 0, 1, ...,
// skipping rows that are shorter than i+1.
func appendColumns(out []byte, rows [][]byte) []byte {
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(r))
	}
	for i := range longest {
		for _, r := range rows {
			if i < len(r) {
				out = append(out, r[i])
			}
		}
	}
	return out
}

// codewords returns the complete, interleaved codeword sequence that
// encodes data in the given version at level M. The data must fit.
func codewords(data []byte, version int) []byte {
	return interleave(dataStream(data, version), version)
}
