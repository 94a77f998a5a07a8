package wmdriver

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// lidLookupTimeout bounds one lookup in the device store's LID map (a
// memory cache in front of Postgres).
const lidLookupTimeout = 5 * time.Second

// lidMap is the part of whatsmeow's LID store (store.Device.LIDs) the
// driver reads: the phone number of a LID and the LID of a phone number,
// learnt from messages, usync answers and LID migration sync messages. An
// unknown one is the empty JID without an error.
type lidMap interface {
	GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
}

// deviceLIDs is the LID map of a device, read when it is used: whatsmeow
// sets store.Device.LIDs only once the device is stored (when pairing
// succeeds); before that it knows no mapping.
type deviceLIDs struct{ dev *store.Device }

func (d deviceLIDs) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	if d.dev.LIDs == nil {
		return types.EmptyJID, nil
	}
	return d.dev.LIDs.GetPNForLID(ctx, lid)
}

func (d deviceLIDs) GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error) {
	if d.dev.LIDs == nil {
		return types.EmptyJID, nil
	}
	return d.dev.LIDs.GetLIDForPN(ctx, pn)
}

// identity is a user or chat as events name it: jid is the phone-number
// JID whenever it is known (a LID only when it is not, a group or other
// JID as it is), lid the user's LID when there is one. Both have no device
// part.
type identity struct {
	jid, lid types.JID
}

func (i identity) String() string { return jidString(i.jid) }

// lidString is the LID, or "".
func (i identity) lidString() string { return jidString(i.lid) }

// identify names the user j, whose other form WhatsApp may have given as
// alt (SenderAlt, RecipientAlt): the phone number and the LID from the
// message when it carries them, else from the device store's LID map.
func (m mapper) identify(j, alt types.JID) identity {
	j, alt = j.ToNonAD(), alt.ToNonAD()
	switch j.Server {
	case types.DefaultUserServer:
		id := identity{jid: j, lid: alt}
		if alt.Server != types.HiddenUserServer {
			id.lid = m.lookup(j)
		}
		return id
	case types.HiddenUserServer:
		id := identity{jid: alt, lid: j}
		if alt.Server != types.DefaultUserServer {
			id.jid = m.lookup(j)
		}
		if id.jid.IsEmpty() {
			id.jid = j
		}
		return id
	}
	return identity{jid: j}
}

// lookup returns the other form of a phone or LID user JID from the LID
// map, or the empty JID when the map does not know it (or fails).
func (m mapper) lookup(j types.JID) types.JID {
	if m.lids == nil {
		return types.EmptyJID
	}
	ctx, cancel := context.WithTimeout(context.Background(), lidLookupTimeout)
	defer cancel()
	var other types.JID
	var err error
	if j.Server == types.HiddenUserServer {
		other, err = m.lids.GetPNForLID(ctx, j)
	} else {
		other, err = m.lids.GetLIDForPN(ctx, j)
	}
	if err != nil {
		return types.EmptyJID
	}
	return other.ToNonAD()
}

// sender names who sent a message or a receipt.
func (m mapper) sender(src types.MessageSource) identity {
	return m.identify(src.Sender, src.SenderAlt)
}

// chat names the chat: a group as it is; a one-to-one chat as the other
// party, whose other form is the sender's (an incoming message) or the
// recipient's (one we sent from another device).
func (m mapper) chat(src types.MessageSource) identity {
	switch src.Chat.Server {
	case types.DefaultUserServer, types.HiddenUserServer:
	default:
		return identity{jid: src.Chat.ToNonAD()}
	}
	alt := src.SenderAlt
	if src.IsFromMe {
		alt = src.RecipientAlt
	} else if src.Sender.User != src.Chat.User && src.SenderAlt.User != src.Chat.User {
		alt = types.EmptyJID
	}
	return m.identify(src.Chat, alt)
}
