package waemu_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	waLog "go.mau.fi/whatsmeow/util/log"
	"google.golang.org/protobuf/proto"

	"github.com/wabus/wabus/internal/testing/waemu"
)

// rawClient speaks the wire protocol directly, to send what no real client
// would.
type rawClient struct {
	ns    *socket.NoiseSocket
	nodes chan *waBinary.Node
	gone  chan struct{}
}

// dialRaw connects and does the Noise handshake with the given static key
// and client payload.
func dialRaw(t *testing.T, srv *waemu.Server, static *keys.KeyPair, payload *waWa6.ClientPayload) *rawClient {
	t.Helper()
	ctx := context.Background()
	fs := socket.NewFrameSocket(waLog.Noop, srv.HTTPClient())
	if err := fs.Connect(ctx); err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { fs.Close(0) })
	eph := keys.NewKeyPair()
	nh := socket.NewNoiseHandshake()
	nh.Start(socket.NoiseStartPattern, fs.Header)
	nh.Authenticate(eph.Pub[:])
	hello, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientHello: &waWa6.HandshakeMessage_ClientHello{Ephemeral: eph.Pub[:]}})
	must(t, fs.SendFrame(hello))
	var resp waWa6.HandshakeMessage
	must(t, proto.Unmarshal(<-fs.Frames, &resp))
	sh := resp.GetServerHello()
	nh.Authenticate(sh.GetEphemeral())
	must(t, nh.MixSharedSecretIntoKey(*eph.Priv, [32]byte(sh.GetEphemeral())))
	serverStatic, err := nh.Decrypt(sh.GetStatic())
	must(t, err)
	must(t, nh.MixSharedSecretIntoKey(*eph.Priv, [32]byte(serverStatic)))
	_, err = nh.Decrypt(sh.GetPayload())
	must(t, err)
	encStatic := nh.Encrypt(static.Pub[:])
	must(t, nh.MixSharedSecretIntoKey(*static.Priv, [32]byte(sh.GetEphemeral())))
	raw, _ := proto.Marshal(payload)
	finish, _ := proto.Marshal(&waWa6.HandshakeMessage{ClientFinish: &waWa6.HandshakeMessage_ClientFinish{
		Static: encStatic, Payload: nh.Encrypt(raw),
	}})
	must(t, fs.SendFrame(finish))
	rc := &rawClient{nodes: make(chan *waBinary.Node, 64), gone: make(chan struct{})}
	rc.ns, err = nh.Finish(ctx, fs, rc.onFrame, func(context.Context, *socket.NoiseSocket, bool) { close(rc.gone) })
	must(t, err)
	return rc
}

func (rc *rawClient) onFrame(_ context.Context, data []byte) {
	if data, err := waBinary.Unpack(data); err == nil {
		if node, err := waBinary.Unmarshal(data); err == nil {
			rc.nodes <- node
		}
	}
}

func (rc *rawClient) send(t *testing.T, node waBinary.Node) {
	t.Helper()
	data, err := waBinary.Marshal(node)
	must(t, err)
	must(t, rc.ns.SendFrame(context.Background(), data))
}

// expect returns the next stanza with tag and id (any id if empty).
func (rc *rawClient) expect(t *testing.T, tag, id string) *waBinary.Node {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case n := <-rc.nodes:
			if gotID, _ := n.Attrs["id"].(string); n.Tag == tag && (id == "" || gotID == id) {
				return n
			}
		case <-rc.gone:
			t.Fatalf("connection closed while waiting for <%s id=%q>", tag, id)
		case <-deadline:
			t.Fatalf("no <%s id=%q> within %s", tag, id, eventWait)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ping(id string) waBinary.Node {
	return waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"id": id, "type": "get", "xmlns": "w:p", "to": types.ServerJID}}
}

func TestGarbageDoesNotCrashTheServer(t *testing.T) {
	t.Parallel()
	srv := waemu.Start(t)
	container := newContainer(t)
	cli := pairClient(t, srv, container)
	dev, err := container.GetDevice(context.Background(), cli.ownJID(t))
	if err != nil || dev == nil {
		t.Fatalf("load device: %v", err)
	}

	t.Run("http", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Addr())
		must(t, err)
		defer c.Close()
		_, _ = c.Write([]byte("\x00\x01GARBAGE / HTTP/9\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode < 400 {
			t.Fatalf("garbage request answered %s", resp.Status)
		}
	})
	t.Run("handshake", func(t *testing.T) {
		fs := socket.NewFrameSocket(waLog.Noop, srv.HTTPClient())
		must(t, fs.Connect(context.Background()))
		defer fs.Close(0)
		must(t, fs.SendFrame([]byte("not a handshake message at all")))
	})
	t.Run("stanzas", func(t *testing.T) {
		rc := dialRaw(t, srv, dev.NoiseKey, dev.GetClientPayload())
		rc.expect(t, "success", "")
		for i, node := range garbageStanzas() {
			rc.send(t, node)
			id := "ping-" + string(rune('a'+i))
			rc.send(t, ping(id))
			rc.expect(t, "iq", id)
		}
		must(t, rc.ns.SendFrame(context.Background(), []byte{0, 0xFF, 0xFE, 0x01}))
		select {
		case <-rc.gone:
		case <-time.After(eventWait):
			t.Fatal("undecodable stanza did not end the connection")
		}
	})
	// The server still pairs and serves a real client.
	pairClient(t, srv, newContainer(t))
}

// garbageStanzas are well-formed stanzas with missing or mistyped parts.
func garbageStanzas() []waBinary.Node {
	jid := types.NewJID("51999", types.DefaultUserServer)
	return []waBinary.Node{
		{Tag: "iq"},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "x1", "type": "get", "xmlns": "usync"}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "x2", "type": "get", "xmlns": "usync"}, Content: []waBinary.Node{
			{Tag: "usync", Content: []waBinary.Node{{Tag: "list", Content: []waBinary.Node{{Tag: "user", Content: []byte("+1")}}}}}}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "x3", "type": "set", "xmlns": "encrypt"}, Content: []waBinary.Node{{Tag: "list", Content: []byte("x")}}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "x4", "type": "get", "xmlns": "encrypt"}, Content: []waBinary.Node{
			{Tag: "key", Content: []waBinary.Node{{Tag: "user", Attrs: waBinary.Attrs{"jid": "not-a-jid"}}, {Tag: "user", Attrs: waBinary.Attrs{"jid": jid}}}}}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "x5", "type": "result"}},
		{Tag: "message"},
		{Tag: "message", Attrs: waBinary.Attrs{"id": "m1", "to": jid}, Content: []waBinary.Node{
			{Tag: "participants", Content: []waBinary.Node{{Tag: "to", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
				{Tag: "enc", Attrs: waBinary.Attrs{"type": "pkmsg", "v": "2"}, Content: []byte{3, 1, 2, 3}},
				{Tag: "enc", Attrs: waBinary.Attrs{"type": "msg", "v": "2"}, Content: []byte("junk")},
				{Tag: "enc", Attrs: waBinary.Attrs{"type": "skmsg"}},
			}}}}}},
		{Tag: "receipt", Attrs: waBinary.Attrs{"id": "r1", "type": "retry"}, Content: []waBinary.Node{{Tag: "list", Content: "x"}}},
		{Tag: "ack", Attrs: waBinary.Attrs{"id": 7, "class": jid}},
		{Tag: "presence", Attrs: waBinary.Attrs{"type": "available"}},
	}
}
