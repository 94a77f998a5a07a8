package qrcode

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// zbarCase is one payload to round-trip through zbarimg.
type zbarCase struct {
	name    string
	data    []byte
	version int // expected version; 0 means any
	scale   int
}

// TestZbarRoundTrip renders many payloads as PNG and decodes them with the
// zbarimg tool from zbar-tools, checking the text comes back unchanged.
func TestZbarRoundTrip(t *testing.T) {
	zbar := newZbar(t)
	rng := rand.New(rand.NewChaCha8([32]byte{'w', 'a', 'b', 'u', 's'}))
	var cases []zbarCase
	cases = append(cases, whatsAppCases(rng)...)
	cases = append(cases, lengthCases(rng)...)
	cases = append(cases, boundaryCases(rng)...)
	cases = append(cases, binaryCases(rng)...)

	var (
		mu         sync.Mutex
		decoded    int
		maxVersion int
	)
	t.Run("payloads", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				v := zbar.roundTrip(t, tc)
				mu.Lock()
				defer mu.Unlock()
				decoded++
				maxVersion = max(maxVersion, v)
			})
		}
	})
	t.Logf("zbarimg decoded %d of %d payloads; largest version %d", decoded, len(cases), maxVersion)
}

// whatsAppCases returns pairing strings shaped like WhatsApp's:
// "2@<ref>,<noise key>,<identity key>,<adv secret>", 32-byte keys in
// standard base64.
func whatsAppCases(rng *rand.Rand) []zbarCase {
	var cases []zbarCase
	for i := range 40 {
		ref := "2@" + randomBase64(rng, 40+rng.IntN(80))
		keys := []string{ref, randomBase64Key(rng), randomBase64Key(rng), randomBase64Key(rng)}
		text := strings.Join(keys, ",")
		cases = append(cases, zbarCase{name: fmt.Sprintf("whatsapp/%02d_len%d", i, len(text)), data: []byte(text), scale: 2 + i%4})
	}
	return cases
}

// lengthCases returns printable-ASCII payloads of every length from 1 to 64
// and then every 7th length up to 1000.
func lengthCases(rng *rand.Rand) []zbarCase {
	var cases []zbarCase
	for n := 1; n <= 1000; n++ {
		if n > 64 && n%7 != 0 {
			continue
		}
		cases = append(cases, zbarCase{name: fmt.Sprintf("length/%04d", n), data: randomPrintable(rng, n), scale: 3})
	}
	return cases
}

// boundaryCases returns payloads that exactly fill each version and ones
// a byte longer, which must move up to the next version.
func boundaryCases(rng *rand.Rand) []zbarCase {
	var cases []zbarCase
	for v := minVersion; v <= maxVersion; v++ {
		n := byteCapacity(v)
		cases = append(cases, zbarCase{name: fmt.Sprintf("boundary/v%02d_full_%d", v, n), data: randomPrintable(rng, n), version: v, scale: 3})
		if v > 1 {
			n = byteCapacity(v-1) + 1
			cases = append(cases, zbarCase{name: fmt.Sprintf("boundary/v%02d_min_%d", v, n), data: randomPrintable(rng, n), version: v, scale: 3})
		}
	}
	return cases
}

// binaryCases returns payloads with arbitrary byte values, including every
// byte value once; zbarimg -Sbinary hands them back unconverted.
func binaryCases(rng *rand.Rand) []zbarCase {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := []zbarCase{{name: "binary/all_bytes", data: all, scale: 3}}
	for _, n := range []int{1, 2, 17, 100, 333, 1000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		cases = append(cases, zbarCase{name: fmt.Sprintf("binary/random_%d", n), data: data, scale: 3})
	}
	return cases
}

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randomBase64(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = base64Alphabet[rng.IntN(len(base64Alphabet))]
	}
	return string(b)
}

func randomBase64Key(rng *rand.Rand) string {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(rng.UintN(256))
	}
	return base64.StdEncoding.EncodeToString(key)
}

func randomPrintable(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(' ' + rng.IntN('~'-' '+1))
	}
	return b
}

// zbar runs the zbarimg binary.
type zbar struct {
	path string
	args []string
}

// newZbar finds zbarimg. A missing zbarimg fails the test, with the
// install command in the message.
func newZbar(t *testing.T) *zbar {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg not found on PATH; install it with: apt-get install -y zbar-tools")
	}
	// -Sbinary: print the bytes as encoded, without charset guessing.
	args := []string{"--raw", "-q", "--oneshot", "-Sdisable", "-Sqrcode.enable", "-Sbinary"}
	if help, _ := exec.Command(path, "--help").CombinedOutput(); bytes.Contains(help, []byte("--nodbus")) {
		args = append(args, "--nodbus")
	}
	return &zbar{path: path, args: args}
}

// roundTrip encodes tc, decodes the PNG with zbarimg, compares the result
// and returns the version used.
func (z *zbar) roundTrip(t *testing.T, tc zbarCase) int {
	c, err := Encode(tc.data)
	if err != nil {
		t.Fatalf("Encode(%d bytes): %v", len(tc.data), err)
	}
	if tc.version != 0 && c.Version != tc.version {
		t.Fatalf("%d bytes encoded as version %d, want %d", len(tc.data), c.Version, tc.version)
	}
	img, err := c.PNG(tc.scale)
	if err != nil {
		t.Fatalf("PNG: %v", err)
	}
	got := z.decode(t, img)
	if !bytes.Equal(got, tc.data) {
		t.Fatalf("version %d: zbarimg decoded %d bytes %q, want %d bytes %q", c.Version, len(got), got, len(tc.data), tc.data)
	}
	return c.Version
}

// decode writes img to a temporary file and returns what zbarimg reads.
func (z *zbar) decode(t *testing.T, img []byte) []byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(file, img, 0o600); err != nil {
		t.Fatalf("write png: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, z.path, slices.Concat(z.args, []string{file})...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v (exit status 4 means no code found); stderr: %s", file, err, stderr.String())
	}
	return out
}
