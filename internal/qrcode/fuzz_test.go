package qrcode

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func FuzzEncode(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("2@AbC,key1,key2,key3"))
	f.Add(make([]byte, 14))
	f.Add(make([]byte, 15))
	f.Add([]byte(strings.Repeat("\xff\x00", 150)))
	f.Add(make([]byte, MaxBytes+1))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Encode(data)
		if len(data) > MaxBytes {
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("Encode(%d bytes) error = %v, want ErrTooLong", len(data), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encode(%d bytes): %v", len(data), err)
		}
		if c.Size != 17+4*c.Version || c.Version < 1 || c.Version > 40 {
			t.Fatalf("version %d with size %d", c.Version, c.Size)
		}
		if len(data) > byteCapacity(c.Version) || (c.Version > 1 && len(data) <= byteCapacity(c.Version-1)) {
			t.Fatalf("%d bytes got version %d, not the smallest that fits", len(data), c.Version)
		}
		if !c.Dark(0, 0) || c.Dark(7, 7) || !c.Dark(8, c.Size-8) {
			t.Fatal("finder or dark module missing")
		}
	})
}

// benchPayload returns a 250-character pairing string shaped like the
// ones the admin server renders: a 113-character reference and three
// base64 32-byte keys.
func benchPayload() string {
	rng := rand.New(rand.NewPCG(250, 250))
	return strings.Join([]string{"2@" + randomBase64(rng, 113),
		randomBase64Key(rng), randomBase64Key(rng), randomBase64Key(rng)}, ",")
}

func BenchmarkPNG(b *testing.B) {
	payload := benchPayload()
	if len(payload) != 250 {
		b.Fatalf("payload is %d characters, want 250", len(payload))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PNG(payload, 8); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	data := []byte(benchPayload())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(data); err != nil {
			b.Fatal(err)
		}
	}
}
