package waemu

import (
	"encoding/binary"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleIQ answers the client's info queries. Every query gets an answer,
// an empty result for those the server does not model, so that the client
// never waits for its 75-second timeout.
func (c *conn) handleIQ(node *waBinary.Node) {
	typ, _ := node.Attrs["type"].(string)
	if typ == "result" || typ == "error" {
		if !c.deliverResponse(node) {
			c.s.debugf("unsolicited iq %s from %s", typ, c.name())
		}
		return
	}
	if _, ok := node.Attrs["id"].(string); !ok {
		c.s.debugf("iq without id from %s", c.name())
		return
	}
	xmlns, _ := node.Attrs["xmlns"].(string)
	first := firstChildTag(node)
	switch {
	case xmlns == "encrypt" && first == "count":
		c.answerPreKeyCount(node)
	case xmlns == "encrypt" && typ == "set":
		c.storePreKeys(node)
	case xmlns == "encrypt" && first == "key":
		c.answerPreKeyFetch(node)
	case xmlns == "usync":
		c.answerUsync(node)
	case xmlns == "w:m" && first == "media_conn":
		c.answerMediaConn(node)
	case xmlns == "privacy" && first == "privacy":
		c.answerPrivacy(node)
	case xmlns == "md" && first == "remove-companion-device":
		c.removeSelf(node)
	case xmlns == "md" && first == "link_code_companion_reg":
		c.handleLinkCode(node)
	case xmlns == "w:p", xmlns == "passive":
		c.result(node)
	default:
		c.s.debugf("unmodelled iq xmlns=%q type=%q <%s> from %s: empty result", xmlns, typ, first, c.name())
		c.result(node)
	}
}

func firstChildTag(node *waBinary.Node) string {
	if children := node.GetChildren(); len(children) > 0 {
		return children[0].Tag
	}
	return ""
}

// result answers an iq with type="result" and the given children.
func (c *conn) result(req *waBinary.Node, children ...waBinary.Node) {
	node := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{
		"from": types.ServerJID, "type": "result", "id": req.Attrs["id"],
	}}
	if len(children) > 0 {
		node.Content = children
	}
	c.sendOrClose(node)
}

// iqError answers an iq with type="error".
func (c *conn) iqError(req *waBinary.Node, code int, text string) {
	c.sendOrClose(waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "error", "id": req.Attrs["id"]},
		Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": code, "text": text}}},
	})
}

func (c *conn) answerPreKeyCount(req *waBinary.Node) {
	n := 0
	c.s.mu.Lock()
	if comp := c.s.companions[c.dev]; comp != nil && !c.dev.IsEmpty() {
		n = len(comp.prekeys)
	}
	c.s.mu.Unlock()
	c.result(req, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": n}})
}

// storePreKeys records an upload: registration id, identity, one-time
// prekeys and the signed prekey.
func (c *conn) storePreKeys(req *waBinary.Node) {
	if c.dev.IsEmpty() {
		c.iqError(req, 401, "not-authorized")
		return
	}
	regID, _ := req.GetChildByTag("registration").Content.([]byte)
	ident, _ := req.GetChildByTag("identity").Content.([]byte)
	signed, okSigned := parseKeyNode(req.GetChildByTag("skey"))
	if len(regID) != 4 || len(ident) != 32 || !okSigned {
		c.iqError(req, 400, "bad-request")
		return
	}
	var list []preKeyPub
	for _, child := range children(req.GetChildByTag("list")) {
		if k, ok := parseKeyNode(child); ok && child.Tag == "key" {
			list = append(list, preKeyPub{id: k.id, pub: k.pub})
		}
	}
	c.s.mu.Lock()
	if comp := c.s.companions[c.dev]; comp != nil {
		comp.keys.regID = binary.BigEndian.Uint32(regID)
		copy(comp.keys.identity[:], ident)
		comp.keys.signed = signed
		comp.prekeys = append(comp.prekeys, list...)
	}
	c.s.mu.Unlock()
	c.result(req)
}

// parseKeyNode reads a <key> or <skey> node: 3-byte id, 32-byte value and,
// for skey, a 64-byte signature.
func parseKeyNode(node waBinary.Node) (signedKey, bool) {
	id, _ := node.GetChildByTag("id").Content.([]byte)
	val, _ := node.GetChildByTag("value").Content.([]byte)
	if len(id) != 3 || len(val) != 32 {
		return signedKey{}, false
	}
	var k signedKey
	k.id = uint32(id[0])<<16 | uint32(id[1])<<8 | uint32(id[2])
	copy(k.pub[:], val)
	if node.Tag == "skey" {
		sig, _ := node.GetChildByTag("signature").Content.([]byte)
		if len(sig) != 64 {
			return signedKey{}, false
		}
		copy(k.sig[:], sig)
	}
	return k, true
}

// answerPreKeyFetch serves prekey bundles for the requested devices:
// emulated phones and paired clients alike.
func (c *conn) answerPreKeyFetch(req *waBinary.Node) {
	var users []waBinary.Node
	for _, child := range children(req.GetChildByTag("key")) {
		jid, ok := child.Attrs["jid"].(types.JID)
		if child.Tag != "user" || !ok {
			continue
		}
		b, found := c.s.takeBundle(jid)
		if !found {
			users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid},
				Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": 404, "text": "item-not-found"}}}})
			continue
		}
		users = append(users, bundleNode(jid, b))
	}
	c.result(req, waBinary.Node{Tag: "list", Content: users})
}

// takeBundle returns the keys of a device the server knows, consuming one
// one-time prekey.
func (s *Server) takeBundle(jid types.JID) (bundleKeys, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if jid.Device == 0 {
		u, ok := s.userByJIDLocked(jid)
		if !ok {
			return bundleKeys{}, false
		}
		return u.phoneDev.takeBundle(), true
	}
	comp, ok := s.companionLocked(jid)
	if !ok {
		return bundleKeys{}, false
	}
	return comp.takeBundle(), true
}

func bundleNode(jid types.JID, b bundleKeys) waBinary.Node {
	reg := binary.BigEndian.AppendUint32(nil, b.regID)
	children := []waBinary.Node{
		{Tag: "registration", Content: reg},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: b.identity[:]},
	}
	if b.prekey != nil {
		children = append(children, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID(b.prekey.id)},
			{Tag: "value", Content: b.prekey.pub[:]},
		}})
	}
	children = append(children, waBinary.Node{Tag: "skey", Content: []waBinary.Node{
		{Tag: "id", Content: keyID(b.signed.id)},
		{Tag: "value", Content: b.signed.pub[:]},
		{Tag: "signature", Content: b.signed.sig[:]},
	}})
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: children}
}

func keyID(id uint32) []byte {
	return []byte{byte(id >> 16), byte(id >> 8), byte(id)}
}

func (c *conn) answerMediaConn(req *waBinary.Node) {
	c.result(req, waBinary.Node{
		Tag: "media_conn",
		Attrs: waBinary.Attrs{
			"auth": "emu-media-auth", "ttl": 300, "auth_ttl": 21600, "max_buckets": 12,
		},
		Content: []waBinary.Node{{Tag: "host", Attrs: waBinary.Attrs{"hostname": mediaHost}}},
	})
}

func (c *conn) answerPrivacy(req *waBinary.Node) {
	cat := func(name, value string) waBinary.Node {
		return waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"name": name, "value": value}}
	}
	c.result(req, waBinary.Node{Tag: "privacy", Content: []waBinary.Node{
		cat("readreceipts", "all"), cat("last", "all"), cat("online", "all"),
		cat("profile", "all"), cat("status", "all"), cat("groupadd", "all"),
	}})
}

// removeSelf handles Client.Logout: the device unlinks itself.
func (c *conn) removeSelf(req *waBinary.Node) {
	if c.dev.IsEmpty() {
		c.iqError(req, 401, "not-authorized")
		return
	}
	c.s.mu.Lock()
	c.s.removeCompanionLocked(c.dev)
	c.s.mu.Unlock()
	c.result(req)
}
