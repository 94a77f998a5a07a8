package wmdriver

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

func TestMapConnectionEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want wa.Event
	}{
		{"connected", &events.Connected{}, wa.Connected{JID: "51900000001:7@s.whatsapp.net"}},
		{"pair success", &events.PairSuccess{ID: types.NewADJID("51987654321", 0, 12), Platform: "android"},
			wa.PairSuccess{JID: "51987654321:12@s.whatsapp.net", Platform: "android"}},
		{"pair error", &events.PairError{Error: errors.New("bad hmac")}, wa.Disconnected{Reason: "pairing failed: bad hmac"}},
		{"disconnected", &events.Disconnected{}, wa.Disconnected{Reason: "connection closed"}},
		{"logged out on connect", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut},
			wa.LoggedOut{Reason: "401: logged out from another device"}},
		{"device removed", &events.LoggedOut{Reason: events.ConnectFailureMainDeviceGone},
			wa.LoggedOut{Reason: "403: primary device was logged out"}},
		{"stream replaced", &events.StreamReplaced{}, wa.StreamReplaced{}},
		{"temporary ban", &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: 90 * time.Minute},
			wa.TemporaryBan{Reason: "102: too many people blocked you", Expires: testNow.Add(90 * time.Minute)}},
		{"temporary ban without expiry", &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople},
			wa.TemporaryBan{Reason: events.TempBanSentToTooManyPeople.String()}},
		{"connect failure", &events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "ua"},
			wa.ConnectFailure{Reason: "409: client user agent was rejected (ua)", Code: 409}},
		{"client outdated", &events.ClientOutdated{}, wa.ConnectFailure{Reason: "405: client is out of date", Code: 405}},
		{"keepalive timeout", &events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: testNow}, wa.KeepAliveTimeout{Count: 3, LastSuccess: testNow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := testMapper().event(tt.in)
			if !ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("event(%T) = %#v, %v; want %#v", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestMapIgnoresOtherEvents(t *testing.T) {
	t.Parallel()
	for _, in := range []any{&events.QR{Codes: []string{"x"}}, &events.KeepAliveRestored{}, &events.HistorySync{},
		&events.OfflineSyncCompleted{}, &events.StreamError{Code: "500"}, &events.Presence{}} {
		if got, ok := testMapper().event(in); ok {
			t.Errorf("event(%T) = %#v, want not reported", in, got)
		}
	}
}

func TestMapReceipts(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("PET", -5*3600))
	direct := types.MessageSource{Chat: alice, Sender: alice}
	tests := []struct {
		name     string
		src      types.MessageSource
		typ      types.ReceiptType
		wantType string
	}{
		{"delivered", direct, types.ReceiptTypeDelivered, "delivered"},
		{"delivery", direct, "delivery", "delivered"},
		{"read", direct, types.ReceiptTypeRead, "read"},
		{"played", direct, types.ReceiptTypePlayed, "played"},
		{"group read", types.MessageSource{Chat: group, Sender: types.NewADJID("51911111111", 0, 3), IsGroup: true},
			types.ReceiptTypeRead, "read"},
		{"lid addressed", types.MessageSource{Chat: aliceLID, Sender: aliceLID, SenderAlt: alice},
			types.ReceiptTypeRead, "read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &events.Receipt{MessageSource: tt.src, MessageIDs: []string{"3EB0A", "3EB0B"}, Timestamp: ts, Type: tt.typ}
			got, ok := testMapper().event(in)
			want := wa.Receipt{Data: event.Receipt{MessageIDs: []string{"3EB0A", "3EB0B"},
				Chat: wantChat(tt.src), Sender: wantSender(tt.src), Type: tt.wantType, Timestamp: ts.UTC()}}
			if tt.src.Chat == aliceLID { // WhatsApp named the LID: it is reported beside the phone
				want.Data.SenderLID, want.Data.ChatLID = aliceLID.String(), aliceLID.String()
			}
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("receipt = %#v, %v; want %#v", got, ok, want)
			}
		})
	}
}

func wantChat(src types.MessageSource) string {
	if src.IsGroup {
		return group.String()
	}
	return alice.String()
}

func wantSender(src types.MessageSource) string {
	if src.IsGroup {
		return "51911111111@s.whatsapp.net"
	}
	return alice.String()
}

func TestMapIgnoresOtherReceipts(t *testing.T) {
	t.Parallel()
	ignored := []*events.Receipt{
		{MessageSource: types.MessageSource{Chat: alice, Sender: alice}, MessageIDs: []string{"a"}, Type: types.ReceiptTypeRetry},
		{MessageSource: types.MessageSource{Chat: alice, Sender: alice}, MessageIDs: []string{"a"}, Type: types.ReceiptTypeSender},
		{MessageSource: types.MessageSource{Chat: alice, Sender: alice}, MessageIDs: []string{"a"}, Type: types.ReceiptTypeReadSelf},
		{MessageSource: types.MessageSource{Chat: alice, Sender: alice}, MessageIDs: []string{"a"}, Type: types.ReceiptTypeServerError},
		{MessageSource: types.MessageSource{Chat: alice, Sender: ownDevice, IsFromMe: true}, MessageIDs: []string{"a"}, Type: types.ReceiptTypeRead},
		{MessageSource: types.MessageSource{Chat: alice, Sender: alice}, Type: types.ReceiptTypeRead},
	}
	for _, in := range ignored {
		if got, ok := testMapper().event(in); ok {
			t.Errorf("receipt %q from me=%v = %#v, want not reported", in.Type, in.IsFromMe, got)
		}
	}
}
