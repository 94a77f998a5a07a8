package media

import (
	"encoding/binary"
	"time"
)

// mp4Info is what the movie box of an MP4 (or QuickTime) file says.
type mp4Info struct {
	duration      time.Duration
	width, height int
	ok            bool // a movie header was read
}

// box is one ISO BMFF box: its type and payload.
type box struct {
	typ     string
	payload []byte
}

// boxes splits data into its boxes, stopping at the first malformed one.
func boxes(data []byte) []box {
	var out []box
	for len(data) >= 8 {
		size := uint64(binary.BigEndian.Uint32(data[0:4]))
		typ, header := string(data[4:8]), uint64(8)
		switch size {
		case 0: // to the end
			size = uint64(len(data))
		case 1: // a 64-bit size follows
			if len(data) < 16 {
				return out
			}
			size, header = binary.BigEndian.Uint64(data[8:16]), 16
		}
		if size < header || size > uint64(len(data)) {
			return out
		}
		out = append(out, box{typ: typ, payload: data[header:size]})
		data = data[size:]
	}
	return out
}

func child(boxes []box, typ string) (box, bool) {
	for _, b := range boxes {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// readMP4 reads the duration (mvhd) and the first visual track's size
// (tkhd) from the moov box.
func readMP4(data []byte) mp4Info {
	var info mp4Info
	moov, ok := child(boxes(data), "moov")
	if !ok {
		return info
	}
	inner := boxes(moov.payload)
	if mvhd, ok := child(inner, "mvhd"); ok {
		info.duration, info.ok = movieDuration(mvhd.payload)
	}
	for _, b := range inner {
		if b.typ != "trak" {
			continue
		}
		if tkhd, ok := child(boxes(b.payload), "tkhd"); ok {
			if w, h := trackSize(tkhd.payload); w > 0 && h > 0 {
				info.width, info.height = w, h
				break
			}
		}
	}
	return info
}

// movieDuration reads a movie header: version 0 has 32-bit times, version
// 1 64-bit ones.
func movieDuration(p []byte) (time.Duration, bool) {
	var scale, dur uint64
	switch {
	case len(p) >= 20 && p[0] == 0:
		scale, dur = uint64(binary.BigEndian.Uint32(p[12:16])), uint64(binary.BigEndian.Uint32(p[16:20]))
	case len(p) >= 32 && p[0] == 1:
		scale, dur = uint64(binary.BigEndian.Uint32(p[20:24])), binary.BigEndian.Uint64(p[24:32])
	default:
		return 0, false
	}
	if scale == 0 || dur == ^uint64(0) || dur/scale > maxSeconds {
		return 0, false
	}
	return time.Duration(float64(dur) / float64(scale) * float64(time.Second)), true
}

// trackSize reads a track header's width and height (16.16 fixed point,
// the last 8 bytes).
func trackSize(p []byte) (width, height int) {
	if len(p) < 84 {
		return 0, 0
	}
	end := len(p)
	if p[0] == 0 {
		end = 84
	} else if len(p) >= 96 {
		end = 96
	}
	return int(binary.BigEndian.Uint32(p[end-8:end-4]) >> 16), int(binary.BigEndian.Uint32(p[end-4:end]) >> 16)
}

// MP4Duration is the duration of an MP4 or QuickTime file from its movie
// header; ok is false for data that is not one.
func MP4Duration(data []byte) (time.Duration, bool) {
	info := readMP4(data)
	return info.duration, info.ok
}
