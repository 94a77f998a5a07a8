package mediatest

import (
	"bytes"
	"encoding/binary"
)

// OpusPreSkip is the pre-skip OggOpus writes in its header, in samples.
const OpusPreSkip = 312

// OggOpus is an Ogg/Opus voice note of the given 20 ms packets: OpusHead,
// OpusTags, then one page per 50 packets (a second), every page with its
// CRC. Each packet is a 20 ms CELT frame header followed by sizes[i]-1
// bytes, so the stream's bit rate follows sizes (a waveform reads it).
func OggOpus(sizes []int) []byte {
	var out bytes.Buffer
	var seq uint32
	page := func(flags byte, granule uint64, packets [][]byte) {
		out.Write(oggPage(flags, granule, seq, packets))
		seq++
	}
	head := append([]byte("OpusHead"), 1, 1)
	head = binary.LittleEndian.AppendUint16(head, OpusPreSkip)
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0)
	page(0x02, 0, [][]byte{head})
	tags := append([]byte("OpusTags"), 5, 0, 0, 0)
	tags = append(tags, "wabus"...)
	tags = append(tags, 0, 0, 0, 0)
	page(0, 0, [][]byte{tags})
	granule := uint64(OpusPreSkip)
	for start := 0; start < len(sizes); start += 50 {
		var packets [][]byte
		for _, n := range sizes[start:min(start+50, len(sizes))] {
			p := bytes.Repeat([]byte{0x55}, max(n, 1))
			p[0] = 0xf8 // CELT-only, fullband, 20 ms, one frame
			packets = append(packets, p)
			granule += 960
		}
		flags := byte(0)
		if start+50 >= len(sizes) {
			flags = 0x04 // end of stream
		}
		page(flags, granule, packets)
	}
	return out.Bytes()
}

// OpusSeconds is the duration OggOpus(sizes) plays, in seconds.
func OpusSeconds(sizes []int) float64 { return float64(len(sizes)) * 0.02 }

// oggPage is one Ogg page of whole packets (each under 255*255 bytes).
func oggPage(flags byte, granule uint64, seq uint32, packets [][]byte) []byte {
	var lacing, body []byte
	for _, p := range packets {
		n := len(p)
		for n >= 255 {
			lacing = append(lacing, 255)
			n -= 255
		}
		lacing = append(lacing, byte(n))
		body = append(body, p...)
	}
	h := []byte("OggS")
	h = append(h, 0, flags)
	h = binary.LittleEndian.AppendUint64(h, granule)
	h = binary.LittleEndian.AppendUint32(h, 0x77616275) // stream serial
	h = binary.LittleEndian.AppendUint32(h, seq)
	h = append(h, 0, 0, 0, 0, byte(len(lacing)))
	h = append(h, lacing...)
	p := append(h, body...)
	binary.LittleEndian.PutUint32(p[22:26], oggCRC(p))
	return p
}

// oggCRC is Ogg's CRC-32 (polynomial 0x04c11db7, not reflected, no final
// xor) over a page whose CRC field is zero.
func oggCRC(p []byte) uint32 {
	var crc uint32
	for _, b := range p {
		crc ^= uint32(b) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
