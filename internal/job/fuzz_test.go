package job_test

import (
	"errors"
	"testing"

	"github.com/wabus/wabus/internal/job"
)

// FuzzParse checks that Parse never panics, that every rejection is a
// *job.Error, and that an accepted job re-marshals and re-parses to an equal
// job.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"id":"order-8812-confirmation","to":"+51987654321","text":"Tu reserva ha sido confirmada","document":{"data":"` + pdfDataURL + `","filename":"ticket_123.pdf"},"reply_to":"3EB0C4F1A2B3","not_after":"2026-12-01T10:00:00Z"}`,
		`{"id":"a","to":"120363025246125888@g.us","audio":{"object":"v.ogg","ptt":true}}`,
		`{"id":"a","to":"51987654321@c.us","image":{"data":"QQ","ptt":true},"not_after":"2026-12-01T10:00:00.123456789+05:30"}`,
		`{"id":"a","to":"+1 (415) 555-0100","text":"<&>","ID":"b","Text":"x"}`,
		`{"id":"a","to":"1@lid","sticker":{"data":"QQ"},"video":null}`,
		`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0C4F1A2B3","emoji":"👍🏽"},"typing_seconds":2}`,
		`{"id":"a","to":"120363025246125486@g.us","reaction":{"message_id":"3EB0A","emoji":"","sender":"+51911122233"}}`,
		`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0C4F1A2B3","text":"a las 9"}}`,
		`{"id":"a","to":"+51987654321","revoke":{"message_id":"3EB0C4F1A2B3"}}`,
		`{"id":"a","to":"+51987654321","location":{"latitude":-12.0464,"longitude":-77.0428,"name":"Plaza","address":"Lima"}}`,
		`{"id":"a","to":"+51987654321","location":{"latitude":1e400,"longitude":-0}}`,
		`{"id":"a","to":"+51987654321","contact":{"name":"Ana","phone":"+51911122233"}}`,
		`{"id":"a","to":"+51987654321","contact":{"vcard":"BEGIN:VCARD
FN:Ana
END:VCARD"}}`,
		`{"id":"a","to":"+51987654321","poll":{"question":"¿Hora?","options":["8","9","9"],"multiple":true}}`,
		`{"id":"a","to":"120363025246125486@g.us","read":{"message_ids":["3EB0A"],"sender":"51911122233@s.whatsapp.net"}}`,
		`{"id":"a","to":"+51987654321","video":{"data":"QQ","thumbnail":"QQ"},"typing_seconds":26}`,
		`{}`, `[]`, `null`, `not json`, `{"id":1}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := job.Parse(data)
		if err != nil {
			var e *job.Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("Parse error %v (%T) is not a *job.Error with a code", err, err)
			}
			return
		}
		if _, _, err := j.Recipient(); err != nil {
			t.Fatalf("accepted job has a bad recipient: %v", err)
		}
		b, err := j.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", j, err)
		}
		again, err := job.Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal) of %s: %v", b, err)
		}
		if !equalJobs(j, again) {
			t.Fatalf("round trip changed the job:\n %+v\n %+v", j, again)
		}
	})
}
