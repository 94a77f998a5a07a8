package wmdriver

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

// downloadFunc fetches and decrypts an attachment into a file (whatsmeow's
// Client.DownloadToFile).
type downloadFunc func(ctx context.Context, msg whatsmeow.DownloadableMessage, f whatsmeow.File) error

// mapper translates whatsmeow events into wa events. It is pure apart from
// its functions and the LID map, which tests replace, and the quote
// authors it records (nil: none).
type mapper struct {
	ownJID   func() types.JID
	download downloadFunc
	now      func() time.Time
	// retryMedia, when set, asks the phone to upload an expired attachment
	// again.
	retryMedia func(ctx context.Context, info types.MessageInfo, mediaKey []byte)
	lids       lidMap  // nil: only what messages say
	quotes     *quotes // authors of the messages seen, for replies
	polls      *polls  // options of the polls seen, for votes
	// decryptVote, when set, decrypts poll votes.
	decryptVote decryptVoteFunc
}

// event maps a whatsmeow event to a wa event; ok is false for events that
// wabus does not report (they are acknowledged as handled).
func (m mapper) event(raw any) (ev wa.Event, ok bool) {
	switch e := raw.(type) {
	case *events.Message:
		return m.message(e)
	case *events.Receipt:
		return m.receipt(e)
	case *events.Connected:
		return wa.Connected{JID: jidString(m.ownJID())}, true
	case *events.PairSuccess:
		return wa.PairSuccess{JID: jidString(e.ID), Platform: e.Platform}, true
	case *events.PairError:
		return wa.Disconnected{Reason: "pairing failed: " + e.Error.Error()}, true
	case *events.Disconnected:
		return wa.Disconnected{Reason: "connection closed"}, true
	case *events.LoggedOut:
		return wa.LoggedOut{Reason: e.Reason.String()}, true
	case *events.StreamReplaced:
		return wa.StreamReplaced{}, true
	}
	return m.failure(raw)
}

// failure maps the events by which WhatsApp refuses a login.
func (m mapper) failure(raw any) (wa.Event, bool) {
	switch e := raw.(type) {
	case *events.TemporaryBan:
		return wa.TemporaryBan{Reason: e.Code.String(), Expires: m.banExpiry(e.Expire)}, true
	case *events.ConnectFailure:
		return connectFailure(e), true
	case *events.ClientOutdated:
		return wa.ConnectFailure{Reason: events.ConnectFailureClientOutdated.String(),
			Code: int(events.ConnectFailureClientOutdated)}, true
	case *events.KeepAliveTimeout:
		return wa.KeepAliveTimeout{Count: e.ErrorCount, LastSuccess: e.LastSuccess}, true
	}
	return nil, false
}

func connectFailure(e *events.ConnectFailure) wa.ConnectFailure {
	reason := e.Reason.String()
	if e.Message != "" {
		reason += " (" + e.Message + ")"
	}
	return wa.ConnectFailure{Reason: reason, Code: int(e.Reason)}
}

// banExpiry is when a ban of length d lapses; zero when WhatsApp did not say.
func (m mapper) banExpiry(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return m.now().Add(d).UTC()
}

// receiptType maps the receipt types wabus reports; "" is a delivery.
func receiptType(t types.ReceiptType) (string, bool) {
	switch t {
	case types.ReceiptTypeDelivered, "delivery":
		return "delivered", true
	case types.ReceiptTypeRead:
		return "read", true
	case types.ReceiptTypePlayed:
		return "played", true
	}
	return "", false
}

// receipt maps a receipt for a message we sent. Receipts from our own
// devices (a read on the phone of a message we received) and other types
// (retry, sender, server-error, ...) are not reported.
func (m mapper) receipt(e *events.Receipt) (wa.Event, bool) {
	typ, ok := receiptType(e.Type)
	if !ok || e.IsFromMe || len(e.MessageIDs) == 0 {
		return nil, false
	}
	chat, sender := m.chat(e.MessageSource), m.sender(e.MessageSource)
	return wa.Receipt{Data: event.Receipt{
		MessageIDs: append([]string(nil), e.MessageIDs...),
		Chat:       chat.String(),
		Sender:     sender.String(),
		SenderLID:  sender.lidString(),
		ChatLID:    chat.lidString(),
		Type:       typ,
		Timestamp:  e.Timestamp.UTC(),
	}}, true
}

// jidString renders a JID, or "" for an empty one.
func jidString(j types.JID) string {
	if j.IsEmpty() {
		return ""
	}
	return j.String()
}
