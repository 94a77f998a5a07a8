package wmdriver

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/wa"
)

func TestParseRecipient(t *testing.T) {
	t.Parallel()
	valid := []string{"51987654321@s.whatsapp.net", "120363025246125486@g.us", "51987654321-1588888888@g.us", "112233445566@lid"}
	for _, to := range valid {
		if jid, err := parseRecipient(to); err != nil || jid.String() != to {
			t.Errorf("parseRecipient(%q) = %v, %v", to, jid, err)
		}
	}
	invalid := []string{"", "+51987654321", "51987654321", "51987654321:3@s.whatsapp.net", "abc@s.whatsapp.net",
		"1234567@s.whatsapp.net", "1234567890123456@s.whatsapp.net", "status@broadcast", "x@newsletter", "@s.whatsapp.net",
		"a.b.c@s.whatsapp.net", "grupo@g.us"}
	for _, to := range invalid {
		_, err := parseRecipient(to)
		checkCode(t, err, event.CodeInvalidRecipient)
	}
}

func TestSendErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err          error
		code         string
		notConnected bool
	}{
		{whatsmeow.ErrNotConnected, "", true},
		{whatsmeow.ErrNotLoggedIn, "", true},
		{whatsmeow.ErrRecipientADJID, event.CodeInvalidRecipient, false},
		{fmt.Errorf("%w %s", whatsmeow.ErrUnknownServer, "newsletter"), event.CodeInvalidRecipient, false},
		{fmt.Errorf("failed to get group members: %w", whatsmeow.ErrGroupNotFound), event.CodeInvalidRecipient, false},
		{fmt.Errorf("failed to get group members: %w", whatsmeow.ErrNotInGroup), event.CodeInvalidRecipient, false},
		{errors.New("no LID found for 51999@s.whatsapp.net from server"), event.CodeNotOnWhatsApp, false},
		{whatsmeow.ErrMessageTimedOut, "", false},
		{fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 500), "", false},
	}
	for _, tt := range tests {
		got := sendError(tt.err)
		checkCode(t, got, tt.code)
		if errors.Is(got, wa.ErrNotConnected) != tt.notConnected || !errors.Is(got, tt.err) {
			t.Errorf("sendError(%v) = %v: not connected %v, want %v; must wrap the cause", tt.err, got,
				errors.Is(got, wa.ErrNotConnected), tt.notConnected)
		}
	}
}

func TestRegisteredJIDs(t *testing.T) {
	t.Parallel()
	resp := []types.IsOnWhatsAppResponse{
		{Query: "+51987654321", JID: alice, IsIn: true},
		{Query: "+99912345678", JID: types.NewJID("99912345678", types.DefaultUserServer), IsIn: false},
		{Query: "+15550001111", JID: types.NewJID("15550001111", types.DefaultUserServer), IsIn: true},
	}
	byDigits := map[string]string{"51987654321": "+51987654321", "99912345678": "99912345678", "15550001111": "15550001111"}
	want := map[string]string{"+51987654321": "51987654321@s.whatsapp.net", "15550001111": "15550001111@s.whatsapp.net"}
	if got := registeredJIDs(resp, byDigits); !reflect.DeepEqual(got, want) {
		t.Errorf("registeredJIDs = %v, want %v", got, want)
	}
}
