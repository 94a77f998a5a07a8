package waemu

import (
	"strings"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// answerUsync answers user sync queries: device lists (before sending),
// "is on WhatsApp" contact lookups and LIDs. Other query parts are left out
// of the answer, which whatsmeow reads as empty.
func (c *conn) answerUsync(req *waBinary.Node) {
	usync := req.GetChildByTag("usync")
	wanted := map[string]bool{}
	for _, q := range children(usync.GetChildByTag("query")) {
		wanted[q.Tag] = true
	}
	var users []waBinary.Node
	for _, item := range children(usync.GetChildByTag("list")) {
		if item.Tag != "user" {
			continue
		}
		if u, ok := c.s.usyncUser(item, wanted); ok {
			users = append(users, u)
		}
	}
	attrs := waBinary.Attrs{"last": "true", "index": "0"}
	for _, k := range []string{"sid", "mode", "context"} {
		if v, ok := usync.Attrs[k].(string); ok {
			attrs[k] = v
		}
	}
	c.result(req, waBinary.Node{Tag: "usync", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "list", Content: users},
	}})
}

// usyncUser answers one <user> of a usync query, addressed either by JID
// or, for contact lookups, by a "+phone@c.us" content.
func (s *Server) usyncUser(item waBinary.Node, wanted map[string]bool) (waBinary.Node, bool) {
	jid, byJID := item.Attrs["jid"].(types.JID)
	query := contentString(item.GetChildByTag("contact"))
	if !byJID {
		if query == "" {
			return waBinary.Node{}, false
		}
		p, err := normalizePhone(strings.TrimSuffix(query, "@"+types.LegacyUserServer))
		if err != nil {
			return waBinary.Node{}, false
		}
		jid = types.NewJID(p, types.DefaultUserServer)
	}
	if jid.Server != types.DefaultUserServer && jid.Server != types.HiddenUserServer {
		return waBinary.Node{}, false
	}
	s.mu.Lock()
	u, ok := s.userByJIDLocked(jid)
	var devices []types.JID
	var lid types.JID
	if ok {
		devices, lid = u.devices(), u.lid
		if jid.Server == types.HiddenUserServer {
			devices = u.lidDevices()
		}
	}
	s.mu.Unlock()
	node := waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid.ToNonAD()}}
	var children []waBinary.Node
	if wanted["contact"] {
		children = append(children, contactNode(ok, query))
	}
	if wanted["devices"] {
		children = append(children, devicesNode(devices))
	}
	if wanted["lid"] && ok && jid.Server == types.DefaultUserServer {
		children = append(children, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": lid}})
	}
	if len(children) > 0 {
		node.Content = children
	}
	return node, true
}

func contactNode(in bool, query string) waBinary.Node {
	typ := "out"
	if in {
		typ = "in"
	}
	node := waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}}
	if query != "" {
		node.Content = []byte(query)
	}
	return node
}

func devicesNode(devices []types.JID) waBinary.Node {
	list := make([]waBinary.Node, 0, len(devices))
	for _, d := range devices {
		list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": int(d.Device)}})
	}
	deviceList := waBinary.Node{Tag: "device-list"}
	if len(list) > 0 {
		deviceList.Content = list
	}
	return waBinary.Node{Tag: "devices", Content: []waBinary.Node{deviceList}}
}

// children returns a node's child nodes (for nodes that are not
// addressable, such as GetChildByTag results).
func children(n waBinary.Node) []waBinary.Node { return n.GetChildren() }

// contentString reads a node's content as text, whichever way the binary
// decoder represented it.
func contentString(n waBinary.Node) string {
	switch v := n.Content.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	case types.JID:
		return v.String()
	default:
		return ""
	}
}
