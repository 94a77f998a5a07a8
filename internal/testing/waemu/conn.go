package waemu

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"google.golang.org/protobuf/proto"
)

const handshakeTimeout = 20 * time.Second

// conn is one client websocket: the Noise handshake, then stanzas until
// either side closes.
type conn struct {
	s  *Server
	ws *wsConn
	tr *transport

	static  [32]byte // the client's Noise static key
	payload *waWa6.ClientPayload
	dev     types.JID // set once logged in
	link    *linkCode // phone-code pairing in progress (guarded by s.mu)
	ready   bool      // logged in and past the offline batch (guarded by s.mu)

	silent atomic.Bool // half-open: nothing is answered or sent (HalfOpen)

	closed    chan struct{}
	closeOnce sync.Once

	waitMu  sync.Mutex
	waiters map[string]chan *waBinary.Node
}

func newConn(s *Server, ws *wsConn) *conn {
	return &conn{
		s: s, ws: ws, tr: newTransport(ws),
		closed:  make(chan struct{}),
		waiters: make(map[string]chan *waBinary.Node),
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.ws.close()
	})
}

// closeAfter closes the connection after d unless the client closes first:
// time for the client to read a stream error and decide it was expected.
func (c *conn) closeAfter(d time.Duration) {
	c.s.goTracked(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.closed:
		case <-c.s.stop:
		}
		c.close()
	})
}

// run serves the connection until it closes. Malformed input ends the
// connection, never the process.
func (c *conn) run() {
	defer c.close()
	defer func() {
		if r := recover(); r != nil {
			c.s.logf("connection %s: internal error: %v", c.name(), r)
		}
	}()
	if err := c.handshake(); err != nil {
		c.s.debugf("handshake: %v", err)
		return
	}
	if err := c.start(); err != nil {
		c.s.logf("connection %s: %v", c.name(), err)
		return
	}
	for {
		node, err := c.tr.readNode()
		if err != nil {
			if !isClosedErr(err) {
				c.s.debugf("connection %s: read: %v", c.name(), err)
			}
			return
		}
		if c.silent.Load() {
			continue
		}
		c.s.debugf("%s → %s", c.name(), node.String())
		c.handle(node)
	}
}

func (c *conn) name() string {
	if c.dev.IsEmpty() {
		return "(unpaired)"
	}
	return c.dev.String()
}

// handshake is the responder side of Noise XX. The client's final payload
// (its ClientPayload) decides between registration and login.
func (c *conn) handshake() error {
	_ = c.ws.c.SetDeadline(time.Now().Add(handshakeTimeout))
	defer func() { _ = c.ws.c.SetDeadline(time.Time{}) }()
	if err := c.tr.readHeader(); err != nil {
		return err
	}
	sym, err := newSymmetricState(c.tr.header)
	if err != nil {
		return err
	}
	clientEph, err := c.readClientHello()
	if err != nil {
		return err
	}
	sym.authenticate(clientEph)
	eph := keys.NewKeyPair()
	if err := c.sendServerHello(sym, eph, clientEph); err != nil {
		return err
	}
	if err := c.readClientFinish(sym, eph); err != nil {
		return err
	}
	read, write, err := sym.split()
	if err != nil {
		return err
	}
	c.tr.start(read, write)
	return nil
}

func (c *conn) readClientHello() ([]byte, error) {
	frame, err := c.tr.readRaw()
	if err != nil {
		return nil, fmt.Errorf("read client hello: %w", err)
	}
	var msg waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &msg); err != nil {
		return nil, fmt.Errorf("unmarshal client hello: %w", err)
	}
	eph := msg.GetClientHello().GetEphemeral()
	if len(eph) != 32 {
		return nil, fmt.Errorf("client hello: ephemeral key of %d bytes", len(eph))
	}
	return eph, nil
}

func (c *conn) sendServerHello(sym *symmetricState, eph *keys.KeyPair, clientEph []byte) error {
	sym.authenticate(eph.Pub[:])
	secret, err := dh(eph.Priv, clientEph)
	if err != nil {
		return err
	}
	if err := sym.mixKey(secret); err != nil {
		return err
	}
	encStatic := sym.encrypt(c.s.static.Pub[:])
	if secret, err = dh(c.s.static.Priv, clientEph); err != nil {
		return err
	}
	if err := sym.mixKey(secret); err != nil {
		return err
	}
	encCerts := sym.encrypt(c.s.certs)
	hello, err := proto.Marshal(&waWa6.HandshakeMessage{ServerHello: &waWa6.HandshakeMessage_ServerHello{
		Ephemeral: eph.Pub[:], Static: encStatic, Payload: encCerts,
	}})
	if err != nil {
		return fmt.Errorf("marshal server hello: %w", err)
	}
	return c.tr.writeRaw(hello)
}

func (c *conn) readClientFinish(sym *symmetricState, eph *keys.KeyPair) error {
	frame, err := c.tr.readRaw()
	if err != nil {
		return fmt.Errorf("read client finish: %w", err)
	}
	var msg waWa6.HandshakeMessage
	if err := proto.Unmarshal(frame, &msg); err != nil {
		return fmt.Errorf("unmarshal client finish: %w", err)
	}
	static, err := sym.decrypt(msg.GetClientFinish().GetStatic())
	if err != nil {
		return err
	}
	if len(static) != 32 {
		return fmt.Errorf("client finish: static key of %d bytes", len(static))
	}
	secret, err := dh(eph.Priv, static)
	if err != nil {
		return err
	}
	if err := sym.mixKey(secret); err != nil {
		return err
	}
	raw, err := sym.decrypt(msg.GetClientFinish().GetPayload())
	if err != nil {
		return err
	}
	var payload waWa6.ClientPayload
	if err := proto.Unmarshal(raw, &payload); err != nil {
		return fmt.Errorf("unmarshal client payload: %w", err)
	}
	copy(c.static[:], static)
	c.payload = &payload
	return nil
}

// start handles the client payload: a login (username and device), or a
// registration that starts pairing.
func (c *conn) start() error {
	if c.payload.Username != nil {
		return c.login()
	}
	if c.payload.GetDevicePairingData() == nil {
		return fmt.Errorf("client payload has neither login nor registration data")
	}
	return c.startPairing()
}

// handle dispatches one stanza from the client.
func (c *conn) handle(node *waBinary.Node) {
	switch node.Tag {
	case "iq":
		c.handleIQ(node)
	case "message":
		c.handleMessage(node)
	case "receipt":
		c.s.recordReceipt(c.dev, node)
		c.handleReceipt(node)
	case "chatstate":
		c.s.recordChatState(c.dev, node)
	case "ack":
		c.handleAck(node)
	default:
		c.s.debugf("ignoring <%s> from %s", node.Tag, c.name())
	}
}

// send writes a stanza to the client.
func (c *conn) send(node waBinary.Node) error {
	if c.silent.Load() {
		return nil // a half-open socket: it goes nowhere
	}
	c.s.debugf("%s ← %s", c.name(), node.String())
	if err := c.tr.sendNode(node); err != nil {
		return fmt.Errorf("send <%s> to %s: %w", node.Tag, c.name(), err)
	}
	return nil
}

// sendOrClose sends a stanza and drops the connection if that fails.
func (c *conn) sendOrClose(node waBinary.Node) {
	if err := c.send(node); err != nil {
		c.s.debugf("%v", err)
		c.close()
	}
}

// request sends a server-initiated IQ and waits for the client's answer.
func (c *conn) request(ctx context.Context, node waBinary.Node) (*waBinary.Node, error) {
	id := c.s.nextID()
	node.Attrs["id"] = id
	ch := make(chan *waBinary.Node, 1)
	c.waitMu.Lock()
	c.waiters[id] = ch
	c.waitMu.Unlock()
	defer func() {
		c.waitMu.Lock()
		delete(c.waiters, id)
		c.waitMu.Unlock()
	}()
	if err := c.send(node); err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		return resp, nil
	case <-c.closed:
		return nil, fmt.Errorf("await answer to <%s>: %w", node.Tag, ErrNotConnected)
	case <-ctx.Done():
		return nil, fmt.Errorf("await answer to <%s>: %w", node.Tag, ctx.Err())
	}
}

// deliverResponse hands an iq result/error to the request waiting for it.
func (c *conn) deliverResponse(node *waBinary.Node) bool {
	id, _ := node.Attrs["id"].(string)
	c.waitMu.Lock()
	ch, ok := c.waiters[id]
	delete(c.waiters, id)
	c.waitMu.Unlock()
	if ok {
		ch <- node
	}
	return ok
}

// streamError sends a <stream:error> and closes the connection after the
// grace period.
func (c *conn) streamError(code, conflict string) {
	node := waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{}}
	if code != "" {
		node.Attrs["code"] = code
	}
	if conflict != "" {
		node.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": conflict}}}
	}
	_ = c.send(node)
	c.closeAfter(c.s.cfg.StreamErrorGrace)
}

func now() string { return strconv.FormatInt(time.Now().Unix(), 10) }
