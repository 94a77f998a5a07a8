package waemu

import (
	"bytes"
	"crypto/cipher"
	"fmt"
	"sync"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/binary/token"
	"go.mau.fi/whatsmeow/socket"
)

// transport carries WhatsApp frames (a 3-byte length, then the frame) over
// websocket messages; after the handshake every frame is AES-GCM encrypted
// with a per-direction counter as nonce.
type transport struct {
	ws *wsConn

	buf    []byte
	header []byte // the client's "WA" prologue, once read

	read    cipher.AEAD
	readCtr uint32

	wmu      sync.Mutex
	write    cipher.AEAD
	writeCtr uint32
}

var waHeaderPrefix = []byte{'W', 'A', socket.WAMagicValue, token.DictVersion}

func newTransport(ws *wsConn) *transport {
	return &transport{ws: ws}
}

// fill reads websocket messages until at least n bytes are buffered.
func (t *transport) fill(n int) error {
	for len(t.buf) < n {
		msg, err := t.ws.readMessage()
		if err != nil {
			return err
		}
		t.buf = append(t.buf, msg...)
	}
	return nil
}

// readHeader consumes the 4-byte connection header the client sends before
// its first frame.
func (t *transport) readHeader() error {
	if err := t.fill(len(waHeaderPrefix)); err != nil {
		return fmt.Errorf("read connection header: %w", err)
	}
	hdr := t.buf[:len(waHeaderPrefix)]
	if !bytes.Equal(hdr, waHeaderPrefix) {
		return fmt.Errorf("read connection header: unexpected %x", hdr)
	}
	t.header = append([]byte(nil), hdr...)
	t.buf = t.buf[len(waHeaderPrefix):]
	return nil
}

// readRaw returns the next frame as sent.
func (t *transport) readRaw() ([]byte, error) {
	if err := t.fill(socket.FrameLengthSize); err != nil {
		return nil, err
	}
	n := int(t.buf[0])<<16 | int(t.buf[1])<<8 | int(t.buf[2])
	if err := t.fill(socket.FrameLengthSize + n); err != nil {
		return nil, err
	}
	frame := append([]byte(nil), t.buf[socket.FrameLengthSize:socket.FrameLengthSize+n]...)
	t.buf = t.buf[socket.FrameLengthSize+n:]
	if len(t.buf) == 0 {
		t.buf = nil
	}
	return frame, nil
}

// writeRaw sends one frame in one websocket message.
func (t *transport) writeRaw(frame []byte) error {
	if len(frame) >= socket.FrameMaxSize {
		return fmt.Errorf("write frame: %d bytes is too large", len(frame))
	}
	out := make([]byte, socket.FrameLengthSize, socket.FrameLengthSize+len(frame))
	out[0], out[1], out[2] = byte(len(frame)>>16), byte(len(frame)>>8), byte(len(frame))
	return t.ws.writeBinary(append(out, frame...))
}

// start switches to encrypted frames.
func (t *transport) start(read, write cipher.AEAD) {
	t.read, t.write = read, write
}

// readNode reads, decrypts and decodes the next stanza.
func (t *transport) readNode() (*waBinary.Node, error) {
	frame, err := t.readRaw()
	if err != nil {
		return nil, err
	}
	plain, err := t.read.Open(frame[:0], nonce(t.readCtr), frame, nil)
	t.readCtr++
	if err != nil {
		return nil, fmt.Errorf("decrypt frame: %w", err)
	}
	return decodeNode(plain)
}

// decodeNode unpacks and unmarshals a binary XML stanza. It never panics.
func decodeNode(data []byte) (node *waBinary.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, fmt.Errorf("decode node: %v", r)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("decode node: empty frame")
	}
	unpacked, err := waBinary.Unpack(data)
	if err != nil {
		return nil, fmt.Errorf("unpack node: %w", err)
	}
	node, err = waBinary.Unmarshal(unpacked)
	if err != nil {
		return nil, fmt.Errorf("unmarshal node: %w", err)
	}
	return node, nil
}

// sendNode encodes, encrypts and sends a stanza.
func (t *transport) sendNode(node waBinary.Node) error {
	data, err := encodeNode(node)
	if err != nil {
		return err
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	frame := t.write.Seal(nil, nonce(t.writeCtr), data, nil)
	t.writeCtr++
	return t.writeRaw(frame)
}

// encodeNode marshals a stanza; the binary encoder panics on attribute
// types it does not know, which here is a bug turned into an error.
func encodeNode(node waBinary.Node) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("encode node <%s>: %v", node.Tag, r)
		}
	}()
	return waBinary.Marshal(node)
}
