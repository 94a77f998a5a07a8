package waemu

import (
	"slices"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// ChatState is a presence a client showed in a chat (a <chatstate>
// stanza): "typing…", "recording…" or stopping.
type ChatState struct {
	From, To types.JID
	// State is "composing" or "paused".
	State string
	// Media is "audio" while recording a voice note, "" while typing.
	Media string
	At    time.Time
}

// ClientReceipt is a receipt a client sent for messages it received (read
// marks, for one).
type ClientReceipt struct {
	From, To types.JID
	// Type is the receipt's type ("read", "read-self"...), "" for a
	// delivery receipt.
	Type string
	IDs  []string
	// Participant is the messages' author in a group.
	Participant types.JID
}

func (s *Server) recordChatState(from types.JID, node *waBinary.Node) {
	to, _ := node.Attrs["to"].(types.JID)
	for _, child := range node.GetChildren() {
		media, _ := child.Attrs["media"].(string)
		s.mu.Lock()
		s.states = append(s.states, ChatState{From: from, To: to, State: child.Tag, Media: media, At: time.Now()})
		s.notifyLocked()
		s.mu.Unlock()
	}
}

func (s *Server) recordReceipt(from types.JID, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	if from.IsEmpty() || id == "" {
		return
	}
	r := ClientReceipt{From: from, IDs: []string{id}}
	r.To, _ = node.Attrs["to"].(types.JID)
	r.Type, _ = node.Attrs["type"].(string)
	r.Participant, _ = node.Attrs["participant"].(types.JID)
	for _, item := range children(node.GetChildByTag("list")) {
		if itemID, ok := item.Attrs["id"].(string); ok && item.Tag == "item" {
			r.IDs = append(r.IDs, itemID)
		}
	}
	s.mu.Lock()
	s.receipts = append(s.receipts, r)
	s.notifyLocked()
	s.mu.Unlock()
}

// ChatStates returns every presence clients showed in chats, in order.
func (s *Server) ChatStates() []ChatState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.states)
}

// ClientReceipts returns every receipt clients sent, in order.
func (s *Server) ClientReceipts() []ClientReceipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.receipts)
}
