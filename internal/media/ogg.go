package media

import (
	"encoding/binary"
	"time"
)

// opusRate is the sample rate of every Opus granule position.
const opusRate = 48000

// maxSeconds bounds the durations a header may claim (a day).
const maxSeconds = 24 * 60 * 60

// WaveformLen is the number of points of a voice note's waveform, each
// 0-100, as WhatsApp's clients draw it.
const WaveformLen = 64

// oggOpus is what the Ogg pages of an Opus stream say.
type oggOpus struct {
	preSkip uint64
	granule uint64 // the last page's granule position
	packets []int  // the sizes of the audio packets, in order
	ok      bool   // an OpusHead was found
}

// readOggOpus walks the Ogg pages of data (the first logical stream) and
// collects the Opus header and the audio packet sizes. It stops at the
// first malformed page, keeping what it read.
func readOggOpus(data []byte) oggOpus {
	var st oggOpus
	var serial uint32
	packet, index := 0, 0 // the packet being assembled, and how many came before
	for len(data) >= 27 && string(data[:4]) == "OggS" {
		nseg := int(data[26])
		if len(data) < 27+nseg {
			break
		}
		lacing := data[27 : 27+nseg]
		body := 27 + nseg
		if index == 0 && packet == 0 {
			serial = binary.LittleEndian.Uint32(data[14:18])
		}
		size := 0
		for _, l := range lacing {
			size += int(l)
		}
		if len(data) < body+size {
			break
		}
		mine := binary.LittleEndian.Uint32(data[14:18]) == serial
		if mine {
			if g := binary.LittleEndian.Uint64(data[6:14]); g != ^uint64(0) {
				st.granule = g
			}
			pos := body
			for _, l := range lacing {
				if index == 0 && packet == 0 && l >= 12 && string(data[pos:pos+8]) == "OpusHead" {
					st.preSkip, st.ok = uint64(binary.LittleEndian.Uint16(data[pos+10:pos+12])), true
				}
				packet += int(l)
				pos += int(l)
				if l < 255 {
					if index >= 2 { // OpusHead and OpusTags are not audio
						st.packets = append(st.packets, packet)
					}
					packet, index = 0, index+1
				}
			}
		}
		data = data[body+size:]
	}
	return st
}

// OggOpusDuration is the duration of an Ogg/Opus file; ok is false for
// data that is not one or does not say.
func OggOpusDuration(data []byte) (time.Duration, bool) {
	st := readOggOpus(data)
	if !st.ok || st.granule <= st.preSkip {
		return 0, false
	}
	samples := st.granule - st.preSkip
	if samples/opusRate > maxSeconds {
		return 0, false
	}
	return time.Duration(float64(samples) / opusRate * float64(time.Second)), true
}

// Waveform is the 64-point waveform of a voice note, each point 0-100:
// the Opus packet sizes over time (see the package doc), or flat for audio
// that is not Ogg/Opus.
func Waveform(data []byte) []byte {
	st := readOggOpus(data)
	out := make([]byte, WaveformLen)
	if len(st.packets) == 0 {
		for i := range out {
			out[i] = 50
		}
		return out
	}
	sums := make([]float64, WaveformLen)
	for i := range WaveformLen {
		lo := i * len(st.packets) / WaveformLen
		hi := max((i+1)*len(st.packets)/WaveformLen, lo+1)
		hi = min(hi, len(st.packets))
		for _, p := range st.packets[lo:hi] {
			sums[i] += float64(p)
		}
		sums[i] /= float64(hi - lo)
	}
	lo, hi := sums[0], sums[0]
	for _, s := range sums {
		lo, hi = min(lo, s), max(hi, s)
	}
	for i, s := range sums {
		if hi == lo {
			out[i] = 50
			continue
		}
		out[i] = byte(5 + 95*(s-lo)/(hi-lo))
	}
	return out
}
