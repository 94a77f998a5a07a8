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
		got := sendError(tt.err, alice)
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

// WhatsApp's error acks are classified by code: 463 fails the job as
// restricted at once; 404 is an unknown recipient; other client errors
// fail at once (a retry under the same id adds ban risk and cannot change
// the answer); 408, 429 and server errors are retried.
func TestSendErrorByServerCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code int
		to   types.JID
		want string // "" = transient
	}{
		{463, alice, event.CodeRestricted},
		{463, aliceLID, event.CodeRestricted},
		{463, group, event.CodeRestricted},
		{479, alice, event.CodeSendFailed},
		{400, alice, event.CodeSendFailed},
		{403, group, event.CodeSendFailed},
		{406, alice, event.CodeSendFailed},
		{404, alice, event.CodeNotOnWhatsApp},
		{404, aliceLID, event.CodeNotOnWhatsApp},
		{404, group, event.CodeInvalidRecipient},
		{408, alice, ""},
		{429, alice, ""},
		{500, alice, ""},
		{503, group, ""},
		{599, alice, ""},
	}
	for _, tt := range tests {
		for _, err := range []error{
			fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, tt.code),
			fmt.Errorf("retry: %w", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, tt.code)),
		} {
			got := sendError(err, tt.to)
			checkCode(t, got, tt.want)
			if !errors.Is(got, whatsmeow.ErrServerReturnedError) || errors.Is(got, wa.ErrNotConnected) {
				t.Errorf("sendError(%v) = %v, want the cause wrapped and not a lost connection", err, got)
			}
		}
	}
}

func TestServerErrorCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code int
		ok   bool
	}{
		{fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 463), 463, true},
		{fmt.Errorf("send: %w", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479)), 479, true},
		{whatsmeow.ErrServerReturnedError, 0, false},
		{fmt.Errorf("%w abc", whatsmeow.ErrServerReturnedError), 0, false},
		{errors.New("server returned error 463"), 0, false}, // not whatsmeow's sentinel
		{whatsmeow.ErrMessageTimedOut, 0, false},
	}
	for _, tt := range tests {
		if code, ok := serverErrorCode(tt.err); code != tt.code || ok != tt.ok {
			t.Errorf("serverErrorCode(%v) = %d, %v; want %d, %v", tt.err, code, ok, tt.code, tt.ok)
		}
	}
}
