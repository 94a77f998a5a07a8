package job_test

import (
	"testing"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
)

func TestRecipient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		to    string
		jid   string
		phone string
		code  string // "" when valid
	}{
		{"+51987654321", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"51987654321", "51987654321@s.whatsapp.net", "51987654321", ""},
		{" +51987654321 ", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"+51 987 654 321", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"+1 (415) 555-0100", "14155550100@s.whatsapp.net", "14155550100", ""},
		{"+51.987.654.321", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"+999123456789", "999123456789@s.whatsapp.net", "999123456789", ""},
		{"12345678", "12345678@s.whatsapp.net", "12345678", ""},
		{"123456789012345", "123456789012345@s.whatsapp.net", "123456789012345", ""},
		{"51987654321@s.whatsapp.net", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"51987654321@S.WhatsApp.Net", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"51987654321@c.us", "51987654321@s.whatsapp.net", "51987654321", ""},
		{"120363025246125888@g.us", "120363025246125888@g.us", "", ""},
		{"51987654321-1612345678@g.us", "51987654321-1612345678@g.us", "", ""},
		{"123456789012345@lid", "123456789012345@lid", "", ""},

		{"", "", "", event.CodeInvalidJob},
		{"   ", "", "", event.CodeInvalidJob},
		{"+12", "", "", event.CodeInvalidRecipient},
		{"1234567", "", "", event.CodeInvalidRecipient},
		{"1234567890123456", "", "", event.CodeInvalidRecipient},
		{"+1234567890123456", "", "", event.CodeInvalidRecipient},
		{"++51987654321", "", "", event.CodeInvalidRecipient},
		{"51987654321+", "", "", event.CodeInvalidRecipient},
		{"+51/987654321", "", "", event.CodeInvalidRecipient},
		{"+51987654321x", "", "", event.CodeInvalidRecipient},
		{"+５１９８７６５４３２１", "", "", event.CodeInvalidRecipient}, // full-width digits
		{"+", "", "", event.CodeInvalidRecipient},
		{"-- ()", "", "", event.CodeInvalidRecipient},
		{"@s.whatsapp.net", "", "", event.CodeInvalidRecipient},
		{"+51987654321@s.whatsapp.net", "", "", event.CodeInvalidRecipient},
		{"1234567@s.whatsapp.net", "", "", event.CodeInvalidRecipient},
		{"1234567890123456@s.whatsapp.net", "", "", event.CodeInvalidRecipient},
		{"51987654321:12@s.whatsapp.net", "", "", event.CodeInvalidRecipient},
		{"51987654321@", "", "", event.CodeInvalidRecipient},
		{"51987654321@example.com", "", "", event.CodeInvalidRecipient},
		{"abc@g.us", "", "", event.CodeInvalidRecipient},
		{"@g.us", "", "", event.CodeInvalidRecipient},
		{"123-@g.us", "", "", event.CodeInvalidRecipient},
		{"123-456-789@g.us", "", "", event.CodeInvalidRecipient},
		{"abc@lid", "", "", event.CodeInvalidRecipient},
		{"status@broadcast", "", "", event.CodeInvalidRecipient},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			t.Parallel()
			j := &job.Job{ID: "r1", To: tt.to, Text: "hi"}
			jid, phone, err := j.Recipient()
			if tt.code != "" {
				if e := wantError(t, err, tt.code, "r1"); e.To != tt.to {
					t.Errorf("error To = %q, want %q", e.To, tt.to)
				}
				if jid != "" || phone != "" {
					t.Errorf("Recipient = %q, %q with an error, want empty", jid, phone)
				}
				wantError(t, j.Validate(), tt.code, "r1")
				return
			}
			if err != nil {
				t.Fatalf("Recipient: %v", err)
			}
			if jid != tt.jid || phone != tt.phone {
				t.Errorf("Recipient = %q, %q; want %q, %q", jid, phone, tt.jid, tt.phone)
			}
			if err := j.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
