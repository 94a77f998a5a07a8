package waemu

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

const qrRefCount = 6

// login handles a client payload with a username: a paired device coming
// back. An unknown or unlinked device, or one whose Noise key differs from
// the one it paired with, is refused with <failure reason="401">, which
// whatsmeow turns into events.LoggedOut.
func (c *conn) login() error {
	dev := types.JID{
		User:   strconv.FormatUint(c.payload.GetUsername(), 10),
		Device: uint16(c.payload.GetDevice()),
		Server: types.DefaultUserServer,
	}
	s := c.s
	if c.interceptLogin(dev) {
		return nil
	}
	s.mu.Lock()
	comp, ok := s.companions[dev]
	if !ok || comp.noise != c.static {
		s.mu.Unlock()
		s.debugf("refusing login of %s: not a linked device", dev)
		_ = c.send(waBinary.Node{Tag: "failure", Attrs: waBinary.Attrs{"reason": "401", "location": "emu"}})
		c.closeAfter(s.cfg.StreamErrorGrace)
		return nil
	}
	old := s.conns[dev]
	c.dev = dev
	s.conns[dev] = c
	s.logins[dev]++
	lid := comp.lid
	s.notifyLocked()
	s.mu.Unlock()
	if old != nil {
		old.streamError("", "replaced")
	}
	c.sendOrClose(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t": now(), "lid": lid, "location": "emu", "props": "1", "abprops": "1", "creation": now(),
	}})
	c.flushOutbox()
	return nil
}

// startPairing answers a registration with a pair-device IQ holding the
// refs the client turns into QR codes.
func (c *conn) startPairing() error {
	refs := make([]waBinary.Node, qrRefCount)
	s := c.s
	s.mu.Lock()
	for i := range refs {
		ref := newRef()
		s.pairing[ref] = c
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	s.mu.Unlock()
	return c.send(waBinary.Node{
		Tag: "iq",
		Attrs: waBinary.Attrs{
			"from": types.ServerJID, "type": "set", "id": s.nextID(), "xmlns": "md",
		},
		Content: []waBinary.Node{{Tag: "pair-device", Content: refs}},
	})
}

func newRef() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "2@" + base64.StdEncoding.EncodeToString(b)
}
