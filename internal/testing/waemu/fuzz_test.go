package waemu

import (
	"io"
	"net"
	"testing"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// FuzzStanza feeds arbitrary frames to a logged-in connection's stanza
// handling: whatever a client sends, the server must not panic.
func FuzzStanza(f *testing.F) {
	jid := types.NewJID("51999", types.DefaultUserServer)
	for _, n := range []waBinary.Node{
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "1", "type": "get", "xmlns": "encrypt"}, Content: []waBinary.Node{{Tag: "count"}}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "2", "type": "get", "xmlns": "usync"}, Content: []waBinary.Node{{Tag: "usync"}}},
		{Tag: "iq", Attrs: waBinary.Attrs{"id": "3", "type": "get", "xmlns": "encrypt"}, Content: []waBinary.Node{
			{Tag: "key", Content: []waBinary.Node{{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}}}}}},
		{Tag: "message", Attrs: waBinary.Attrs{"id": "m", "to": jid}, Content: []waBinary.Node{{Tag: "enc", Attrs: waBinary.Attrs{"type": "msg"}, Content: []byte{1}}}},
		{Tag: "receipt", Attrs: waBinary.Attrs{"id": "r", "to": jid}},
		{Tag: "ack", Attrs: waBinary.Attrs{"id": "a", "class": "receipt"}},
	} {
		data, _ := waBinary.Marshal(n)
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0x78, 0x9c})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := fuzzConn(t)
		if node, err := decodeNode(data); err == nil {
			c.handle(node)
		}
	})
}

// fuzzConn returns a logged-in connection whose output is discarded.
func fuzzConn(t *testing.T) *conn {
	s, err := newServer(t, Config{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	dev := types.JID{User: "15550001", Device: 1, Server: types.DefaultUserServer}
	s.mu.Lock()
	u := s.addUserLocked(dev.User)
	u.companions = append(u.companions, 1)
	s.companions[dev] = &companion{jid: dev}
	s.mu.Unlock()
	ours, theirs := net.Pipe()
	t.Cleanup(func() { ours.Close(); theirs.Close() })
	go func() { _, _ = io.Copy(io.Discard, theirs) }()
	c := newConn(s, &wsConn{c: ours})
	key := make([]byte, 32)
	aead, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	c.tr.start(aead, aead)
	c.dev = dev
	return c
}
