package mediatest

import (
	"bytes"
	"encoding/binary"
)

// MP4 is an MP4 file of the given length in milliseconds with one w×h
// video track: ftyp, then moov (mvhd with a 1000 Hz timescale, a trak with
// its tkhd) and an empty mdat, the boxes a player reads first.
func MP4(millis uint32, w, h int) []byte {
	var out bytes.Buffer
	out.Write(mp4Box("ftyp", append([]byte("isom\x00\x00\x02\x00"), "isomiso2avc1mp41"...)))
	mvhd := make([]byte, 100)
	binary.BigEndian.PutUint32(mvhd[12:16], 1000)
	binary.BigEndian.PutUint32(mvhd[16:20], millis)
	binary.BigEndian.PutUint32(mvhd[20:24], 0x00010000) // rate 1.0
	binary.BigEndian.PutUint16(mvhd[24:26], 0x0100)     // volume 1.0
	binary.BigEndian.PutUint32(mvhd[96:100], 2)         // next track id
	tkhd := make([]byte, 84)
	tkhd[3] = 3 // enabled, in movie
	binary.BigEndian.PutUint32(tkhd[12:16], 1)
	binary.BigEndian.PutUint32(tkhd[20:24], millis)
	binary.BigEndian.PutUint32(tkhd[76:80], uint32(w)<<16)
	binary.BigEndian.PutUint32(tkhd[80:84], uint32(h)<<16)
	trak := mp4Box("trak", mp4Box("tkhd", tkhd))
	out.Write(mp4Box("moov", append(mp4Box("mvhd", mvhd), trak...)))
	out.Write(mp4Box("mdat", nil))
	return out.Bytes()
}

func mp4Box(typ string, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(payload)))
	b = append(b, typ...)
	return append(b, payload...)
}
