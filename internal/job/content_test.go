package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/vocab"
)

const group = `"120363025246125486@g.us"`

// Every v2 content is accepted in its documented shapes and reports its key
// as the job's kind.
func TestParseContents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind string
		body string
	}{
		{vocab.ContentReaction, `{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0C4F1A2B3","emoji":"👍🏽"}}`},
		{vocab.ContentReaction, `{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0C4F1A2B3","emoji":""}}`},
		{vocab.ContentReaction, `{"id":"a","to":` + group + `,"reaction":{"message_id":"3EB0C4F1A2B3","emoji":"❤️","sender":"+51911122233"}}`},
		{vocab.ContentEdit, `{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0C4F1A2B3","text":"a las 9, no a las 8"}}`},
		{vocab.ContentRevoke, `{"id":"a","to":"+51987654321","revoke":{"message_id":"3EB0C4F1A2B3"},"typing_seconds":0}`},
		{vocab.ContentLocation, `{"id":"a","to":"+51987654321","location":{"latitude":-12.0464,"longitude":-77.0428,"name":"Plaza Mayor","address":"Lima"},"reply_to":"3EB0X"}`},
		{vocab.ContentLocation, `{"id":"a","to":"+51987654321","location":{"latitude":90,"longitude":-180}}`},
		{vocab.ContentContact, `{"id":"a","to":"+51987654321","contact":{"name":"Ana Pérez","phone":"+51 911 122 233"}}`},
		{vocab.ContentContact, `{"id":"a","to":"+51987654321","contact":{"vcard":"BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nEND:VCARD\n"}}`},
		{vocab.ContentPoll, `{"id":"a","to":` + group + `,"poll":{"question":"¿Hora?","options":["8","9"],"multiple":true},"typing_seconds":25}`},
		{vocab.ContentRead, `{"id":"a","to":"+51987654321","read":{"message_ids":["3EB0A","3EB0B"]}}`},
		{vocab.ContentRead, `{"id":"a","to":` + group + `,"read":{"message_ids":["3EB0A"],"sender":"51911122233@s.whatsapp.net"}}`},
		{vocab.ContentVideo, `{"id":"a","to":"+51987654321","video":{"data":"QQ","thumbnail":"data:image/jpeg;base64,QQ"}}`},
		{vocab.ContentText, `{"id":"a","to":"+51987654321","text":"hola","typing_seconds":3}`},
	}
	for _, tt := range tests {
		j, err := job.Parse([]byte(tt.body))
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.body, err)
			continue
		}
		if j.Kind() != tt.kind {
			t.Errorf("Parse(%s).Kind() = %q, want %q", tt.body, j.Kind(), tt.kind)
		}
	}
}

// Every bad input of each kind fails with invalid_job and an error that
// names the field.
func TestParseContentErrorsNameTheField(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		body, field string
	}{
		{`{"id":"a","to":"+51987654321","text":"hi","typing_seconds":26}`, "typing_seconds"},
		{`{"id":"a","to":"+51987654321","text":"hi","typing_seconds":-1}`, "typing_seconds"},
		{`{"id":"a","to":"+51987654321","text":"hi","typing_seconds":1.5}`, "typing_seconds"},
		{`{"id":"a","to":"+51987654321","text":"hi","typing_seconds":"3"}`, "typing_seconds"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":"x"},"poll":{"question":"q","options":["a","b"]}}`, "reaction and poll"},
		{`{"id":"a","to":"+51987654321","image":{"data":"QQ"},"location":{"latitude":1,"longitude":1}}`, "image and location"},
		{`{"id":"a","to":"+51987654321","reaction":"👍"}`, "reaction"},
		{`{"id":"a","to":"+51987654321","reaction":{"emoji":"👍"}}`, "reaction.message_id"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"bad id","emoji":"👍"}}`, "reaction.message_id"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":"` + long(40) + `"}}`, "reaction.emoji"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":" 👍"}}`, "reaction.emoji"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":"👍","sender":"+51911122233"}}`, "reaction.sender"},
		{`{"id":"a","to":` + group + `,"reaction":{"message_id":"3EB0A","emoji":"👍","sender":"nobody"}}`, "reaction.sender"},
		{`{"id":"a","to":` + group + `,"reaction":{"message_id":"3EB0A","emoji":"👍","sender":` + group + `}}`, "reaction.sender"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":"👍"},"text":"hi"}`, "text"},
		{`{"id":"a","to":"+51987654321","reaction":{"message_id":"3EB0A","emoji":"👍"},"reply_to":"3EB0B"}`, "reply_to"},
		{`{"id":"a","to":"+51987654321","edit":{"text":"x"}}`, "edit.message_id"},
		{`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0A"}}`, "edit.text"},
		{`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0A","text":"  "}}`, "edit.text"},
		{`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0A","text":"` + long(job.MaxTextLen+1) + `"}}`, "edit.text"},
		{`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0A","text":"x"},"text":"y"}`, "text"},
		{`{"id":"a","to":"+51987654321","edit":{"message_id":"3EB0A","text":1}}`, "edit.text"},
		{`{"id":"a","to":"+51987654321","revoke":{}}`, "revoke.message_id"},
		{`{"id":"a","to":"+51987654321","revoke":{"message_id":"3EB0A"},"reply_to":"3EB0B"}`, "reply_to"},
		{`{"id":"a","to":"+51987654321","location":{"longitude":1}}`, "location.latitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":1}}`, "location.longitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":91,"longitude":1}}`, "location.latitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":-90.5,"longitude":1}}`, "location.latitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":1,"longitude":180.01}}`, "location.longitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":"1","longitude":1}}`, "location.latitude"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":1,"longitude":1,"name":"` + long(job.MaxLabelLen+1) + `"}}`, "location.name"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":1,"longitude":1,"address":"` + long(job.MaxLabelLen+1) + `"}}`, "location.address"},
		{`{"id":"a","to":"+51987654321","location":{"latitude":1,"longitude":1},"text":"here"}`, "text"},
		{`{"id":"a","to":"+51987654321","contact":{}}`, "contact.name"},
		{`{"id":"a","to":"+51987654321","contact":{"name":"Ana"}}`, "contact.phone"},
		{`{"id":"a","to":"+51987654321","contact":{"name":"Ana","phone":"12"}}`, "contact.phone"},
		{`{"id":"a","to":"+51987654321","contact":{"name":"Ana\nEND:VCARD","phone":"+51911122233"}}`, "contact.name"},
		{`{"id":"a","to":"+51987654321","contact":{"name":"Ana","phone":"+51911122233","vcard":"BEGIN:VCARD\nEND:VCARD"}}`, "vcard"},
		{`{"id":"a","to":"+51987654321","contact":{"vcard":"FN:Ana"}}`, "contact.vcard"},
		{`{"id":"a","to":"+51987654321","contact":{"vcard":"BEGIN:VCARD\n` + long(job.MaxVCardLen) + `\nEND:VCARD"}}`, "contact.vcard"},
		{`{"id":"a","to":"+51987654321","poll":{"options":["a","b"]}}`, "poll.question"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"` + long(job.MaxPollQuestionLen+1) + `","options":["a","b"]}}`, "poll.question"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["a"]}}`, "poll.options"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q"}}`, "poll.options"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["1","2","3","4","5","6","7","8","9","10","11","12","13"]}}`, "poll.options"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["a","a"]}}`, "poll.options[1]"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["a",""]}}`, "poll.options[1]"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["a","` + long(job.MaxPollOptionLen+1) + `"]}}`, "poll.options[1]"},
		{`{"id":"a","to":"+51987654321","poll":{"question":"q","options":["a","b"],"multiple":"yes"}}`, "poll.multiple"},
		{`{"id":"a","to":"+51987654321","read":{"message_ids":[]}}`, "read.message_ids"},
		{`{"id":"a","to":"+51987654321","read":{"message_ids":["ok","bad id"]}}`, "read.message_ids[1]"},
		{`{"id":"a","to":"+51987654321","read":{"message_ids":["3EB0A"],"sender":"+51911122233"}}`, "read.sender"},
		{`{"id":"a","to":` + group + `,"read":{"message_ids":["3EB0A"]}}`, "read.sender"},
		{`{"id":"a","to":` + group + `,"read":{"message_ids":["3EB0A"],"sender":"x"}}`, "read.sender"},
		{`{"id":"a","to":"+51987654321","read":{"message_ids":["3EB0A"]},"typing_seconds":2}`, "typing_seconds"},
		{`{"id":"a","to":"+51987654321","read":{"message_ids":["3EB0A"]},"reply_to":"3EB0B"}`, "reply_to"},
		{`{"id":"a","to":"+51987654321","image":{"data":"QQ","thumbnail":"QQ"}}`, "image.thumbnail"},
		{`{"id":"a","to":"+51987654321","video":{"data":"QQ","thumbnail":"` + long(job.MaxThumbnailLen+1) + `"}}`, "video.thumbnail"},
	}
	for _, tt := range tests {
		_, err := job.Parse([]byte(tt.body))
		short := tt.body[:min(len(tt.body), 140)]
		if job.CodeOf(err) != event.CodeInvalidJob {
			t.Errorf("Parse(%s) = %v, want invalid_job", short, err)
			continue
		}
		var je *job.Error
		if !asJobError(err, &je) || je.JobID != "a" {
			t.Errorf("Parse(%s) = %v, want the job id in the error", short, err)
		}
		if !strings.Contains(err.Error(), tt.field) {
			t.Errorf("Parse(%s) = %q, want it to name %q", short, err, tt.field)
		}
	}
}

func asJobError(err error, target **job.Error) bool { return errors.As(err, target) }
