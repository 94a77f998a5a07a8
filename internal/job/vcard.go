package job

import (
	"strings"

	"github.com/wabus/wabus/internal/event"
)

// ContactCard returns the contact with its vCard: the job's, or one written
// from its name and phone (with the waid WhatsApp links the chat by).
func ContactCard(c *event.Contact) *event.Contact {
	if c.VCard != "" {
		return &event.Contact{VCard: c.VCard, Name: vcardName(c.VCard)}
	}
	digits, _ := phoneDigits(c.Phone)
	card := "BEGIN:VCARD\nVERSION:3.0\nN:;" + vcardEscape(c.Name) + ";;;\nFN:" + vcardEscape(c.Name) +
		"\nTEL;type=CELL;waid=" + digits + ":+" + digits + "\nEND:VCARD"
	return &event.Contact{Name: c.Name, Phone: "+" + digits, VCard: card}
}

// vcardName is the FN of a vCard, or "".
func vcardName(card string) string {
	for line := range strings.Lines(card) {
		line = strings.TrimRight(line, "\r\n")
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.SplitN(k, ";", 2)[0], "FN") {
			return v
		}
	}
	return ""
}

func vcardEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`).Replace(s)
}
