package waemu

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The server half of RFC 6455, just enough for whatsmeow's websocket
// client (github.com/coder/websocket): no extensions, no subprotocols,
// binary messages, ping/pong and the closing handshake.

const (
	wsGUID          = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	wsMaxMessage    = 32 << 20
	opContinuation  = 0x0
	opText          = 0x1
	opBinary        = 0x2
	opClose         = 0x8
	opPing          = 0x9
	opPong          = 0xA
	wsCloseTimeout  = 2 * time.Second
	wsHeaderMaxSize = 14
)

// errWSClosed is returned by readMessage after the peer's close frame.
var errWSClosed = errors.New("websocket closed by peer")

type wsConn struct {
	c  net.Conn
	br *bufio.Reader

	wmu       sync.Mutex
	closeOnce sync.Once
}

// isWebsocketUpgrade reports whether r asks for a websocket upgrade.
func isWebsocketUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// upgradeWebsocket answers the opening handshake and takes the connection
// over from net/http.
func upgradeWebsocket(w http.ResponseWriter, r *http.Request) (*wsConn, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if r.Method != http.MethodGet || key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		http.Error(w, "bad websocket handshake", http.StatusBadRequest)
		return nil, fmt.Errorf("upgrade websocket: bad handshake request")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return nil, fmt.Errorf("upgrade websocket: response writer is not a hijacker")
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack connection: %w", err)
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n"
	if _, err := c.Write([]byte(resp)); err != nil {
		c.Close()
		return nil, fmt.Errorf("write upgrade response: %w", err)
	}
	return &wsConn{c: c, br: rw.Reader}, nil
}

// readMessage returns the next complete data message, answering pings and
// the closing handshake on the way. After a close frame it returns
// errWSClosed.
func (ws *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	started := false
	for {
		fin, op, payload, err := ws.readFrame()
		if err != nil {
			return nil, err
		}
		switch op {
		case opPing:
			if err := ws.writeFrame(opPong, payload); err != nil {
				return nil, err
			}
		case opPong:
		case opClose:
			ws.replyClose(payload)
			return nil, errWSClosed
		case opText, opBinary:
			if started {
				return nil, fmt.Errorf("read websocket: new message inside a fragmented one")
			}
			started, msg = true, payload
		case opContinuation:
			if !started {
				return nil, fmt.Errorf("read websocket: continuation without a message")
			}
			if len(msg)+len(payload) > wsMaxMessage {
				return nil, fmt.Errorf("read websocket: message larger than %d bytes", wsMaxMessage)
			}
			msg = append(msg, payload...)
		default:
			return nil, fmt.Errorf("read websocket: unknown opcode %d", op)
		}
		if started && fin && op != opPing && op != opPong {
			return msg, nil
		}
	}
}

// readFrame reads one frame and unmasks its payload. Client frames must be
// masked (RFC 6455 section 5.1).
func (ws *wsConn) readFrame() (fin bool, op byte, payload []byte, err error) {
	var hdr [2]byte
	if _, err = io.ReadFull(ws.br, hdr[:]); err != nil {
		return false, 0, nil, err
	}
	fin, op = hdr[0]&0x80 != 0, hdr[0]&0x0F
	if hdr[0]&0x70 != 0 {
		return false, 0, nil, fmt.Errorf("read websocket frame: reserved bits set")
	}
	if hdr[1]&0x80 == 0 {
		return false, 0, nil, fmt.Errorf("read websocket frame: client frame not masked")
	}
	n, err := ws.readLength(hdr[1] & 0x7F)
	if err != nil {
		return false, 0, nil, err
	}
	if op >= opClose && (n > 125 || !fin) {
		return false, 0, nil, fmt.Errorf("read websocket frame: bad control frame")
	}
	var mask [4]byte
	if _, err = io.ReadFull(ws.br, mask[:]); err != nil {
		return false, 0, nil, err
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(ws.br, payload); err != nil {
		return false, 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return fin, op, payload, nil
}

func (ws *wsConn) readLength(short byte) (uint64, error) {
	var n uint64
	switch short {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(ws.br, b[:]); err != nil {
			return 0, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(ws.br, b[:]); err != nil {
			return 0, err
		}
		n = binary.BigEndian.Uint64(b[:])
	default:
		n = uint64(short)
	}
	if n > wsMaxMessage {
		return 0, fmt.Errorf("read websocket frame: payload of %d bytes is too large", n)
	}
	return n, nil
}

// writeBinary sends data as one binary message.
func (ws *wsConn) writeBinary(data []byte) error {
	return ws.writeFrame(opBinary, data)
}

func (ws *wsConn) writeFrame(op byte, payload []byte) error {
	hdr := make([]byte, 0, wsHeaderMaxSize)
	hdr = append(hdr, 0x80|op)
	switch n := len(payload); {
	case n <= 125:
		hdr = append(hdr, byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	ws.wmu.Lock()
	defer ws.wmu.Unlock()
	if _, err := ws.c.Write(append(hdr, payload...)); err != nil {
		return fmt.Errorf("write websocket frame: %w", err)
	}
	return nil
}

// replyClose echoes the peer's close code, as the closing handshake asks.
func (ws *wsConn) replyClose(payload []byte) {
	code := payload
	if len(code) > 2 {
		code = code[:2]
	}
	_ = ws.c.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	_ = ws.writeFrame(opClose, code)
}

// close drops the TCP connection without a closing handshake.
func (ws *wsConn) close() {
	ws.closeOnce.Do(func() { _ = ws.c.Close() })
}
