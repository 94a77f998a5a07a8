package job_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/vocab"
)

// tinyPDF is a minimal, real PDF document.
const tinyPDF = "%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"

var pdfDataURL = "data:application/pdf;base64," + base64.StdEncoding.EncodeToString([]byte(tinyPDF))

// wantError fails t unless err is a *job.Error with the given code and job id.
func wantError(t *testing.T, err error, code, jobID string) *job.Error {
	t.Helper()
	var e *job.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *job.Error with code %s", err, err, code)
	}
	if e.Code != code || e.JobID != jobID {
		t.Fatalf("error = %q (code %q, job id %q), want code %q, job id %q", e, e.Code, e.JobID, code, jobID)
	}
	if e.Error() == "" || !strings.HasPrefix(e.Error(), code+": ") {
		t.Fatalf("Error() = %q, want it to start with %q", e.Error(), code+": ")
	}
	return e
}

func TestParseContractExample(t *testing.T) {
	t.Parallel()
	body := `{
	  "id": "order-8812-confirmation",
	  "to": "+51987654321",
	  "text": "Tu reserva ha sido confirmada",
	  "document": {"data": "` + pdfDataURL + `", "filename": "ticket_123.pdf"},
	  "reply_to": "3EB0C4F1A2B3",
	  "not_after": "2026-12-01T10:00:00Z",
	  "unknown_field": {"ignored": true}
	}`
	j, err := job.Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	notAfter := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := &job.Job{
		ID:       "order-8812-confirmation",
		To:       "+51987654321",
		Text:     "Tu reserva ha sido confirmada",
		Document: &job.Media{Data: pdfDataURL, Filename: "ticket_123.pdf"},
		ReplyTo:  "3EB0C4F1A2B3",
		NotAfter: &notAfter,
	}
	if !equalJobs(j, want) {
		t.Fatalf("Parse = %+v, want %+v", j, want)
	}
	if got := j.Kind(); got != vocab.ContentDocument {
		t.Errorf("Kind = %q, want document", got)
	}
	if j.Media() != j.Document {
		t.Errorf("Media = %p, want the document %p", j.Media(), j.Document)
	}
	jid, phone, err := j.Recipient()
	if err != nil || jid != "51987654321@s.whatsapp.net" || phone != "51987654321" {
		t.Errorf("Recipient = %q, %q, %v; want 51987654321@s.whatsapp.net, 51987654321, nil", jid, phone, err)
	}
	data, mimetype, err := job.DecodeData(j.Media().Data)
	if err != nil || string(data) != tinyPDF || mimetype != "application/pdf" {
		t.Errorf("DecodeData = %q, %q, %v; want the PDF, application/pdf", data, mimetype, err)
	}
	if got := job.DetectMimetype(data, j.Media().Filename, mimetype); got != "application/pdf" {
		t.Errorf("DetectMimetype = %q, want application/pdf", got)
	}
	if err := job.CheckSize(j.Kind(), len(data)); err != nil {
		t.Errorf("CheckSize: %v", err)
	}
}

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		kind  string
		media bool
	}{
		{"text", `{"id":"a","to":"51987654321","text":"hi"}`, "text", false},
		{"id with every allowed character", `{"id":"Az09._:-","to":"51987654321","text":"hi"}`, "text", false},
		{"id of 128 characters", `{"id":"` + strings.Repeat("x", 128) + `","to":"51987654321","text":"hi"}`, "text", false},
		{"document by object", `{"id":"a","to":"51987654321","document":{"object":"big/report 2026.pdf"}}`, "document", true},
		{"image with caption", `{"id":"a","to":"51987654321","text":"look","image":{"data":"iVBORw0KGgo="}}`, "image", true},
		{"audio ptt", `{"id":"a","to":"51987654321","audio":{"data":"T2dnUw==","ptt":true}}`, "audio", true},
		{"video", `{"id":"a","to":"51987654321","video":{"object":"v.mp4","mimetype":"video/mp4"}}`, "video", true},
		{"sticker", `{"id":"a","to":"51987654321","sticker":{"data":"UklGRg"}}`, "sticker", true},
		{"null media is absent", `{"id":"a","to":"51987654321","text":"hi","image":null,"video":null}`, "text", false},
		{"empty optional fields", `{"id":"a","to":"51987654321","text":"hi","reply_to":"","not_after":""}`, "text", false},
		{"reply_to", `{"id":"a","to":"51987654321","text":"hi","reply_to":"BAE5F00D.1_2:3-4"}`, "text", false},
		{"not_after with offset and fraction", `{"id":"a","to":"51987654321","text":"hi","not_after":"2026-12-01T10:00:00.5-05:00"}`, "text", false},
		{"group", `{"id":"a","to":"120363025246125888@g.us","text":"hi"}`, "text", false},
		{"not on whatsapp is well formed", `{"id":"a","to":"+999123456789","text":"hi"}`, "text", false},
		{"leading white space", " \n\t" + `{"id":"a","to":"51987654321","text":"hi"}`, "text", false},
		{"text of the maximum length", `{"id":"a","to":"51987654321","text":"` + strings.Repeat("é", job.MaxTextLen) + `"}`, "text", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := job.Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := j.Kind(); got != tt.kind {
				t.Errorf("Kind = %q, want %q", got, tt.kind)
			}
			if got := j.Media() != nil; got != tt.media {
				t.Errorf("Media() != nil is %v, want %v", got, tt.media)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	const (
		invalid   = event.CodeInvalidJob
		recipient = event.CodeInvalidRecipient
	)
	tests := []struct {
		name  string
		body  string
		code  string
		jobID string
	}{
		// No usable id: DLQ only.
		{"empty body", ``, invalid, ""},
		{"not json", `not json`, invalid, ""},
		{"array", `[]`, invalid, ""},
		{"null", `null`, invalid, ""},
		{"string", `"job"`, invalid, ""},
		{"empty object", `{}`, invalid, ""},
		{"truncated", `{"id":"a","to":"51987654321","text":"hi"`, invalid, ""},
		{"trailing data", `{"id":"a","to":"51987654321","text":"hi"}{}`, invalid, ""},
		{"id missing", `{"to":"51987654321","text":"hi"}`, invalid, ""},
		{"id empty", `{"id":"","to":"51987654321","text":"hi"}`, invalid, ""},
		{"id a number", `{"id":42,"to":"51987654321","text":"hi"}`, invalid, ""},
		{"id with a space", `{"id":"a b","to":"51987654321","text":"hi"}`, invalid, ""},
		{"id with a slash", `{"id":"a/b","to":"51987654321","text":"hi"}`, invalid, ""},
		{"id not ascii", `{"id":"pedido-ñ","to":"51987654321","text":"hi"}`, invalid, ""},
		{"id of 129 characters", `{"id":"` + strings.Repeat("x", 129) + `","to":"51987654321","text":"hi"}`, invalid, ""},

		// A usable id: failed event with the job id.
		{"to missing", `{"id":"j1","text":"hi"}`, invalid, "j1"},
		{"to blank", `{"id":"j1","to":"  ","text":"hi"}`, invalid, "j1"},
		{"to a number", `{"id":"j1","to":51987654321,"text":"hi"}`, invalid, "j1"},
		{"to too short", `{"id":"j1","to":"+12","text":"hi"}`, recipient, "j1"},
		{"to 7 digits", `{"id":"j1","to":"1234567","text":"hi"}`, recipient, "j1"},
		{"to 16 digits", `{"id":"j1","to":"1234567890123456","text":"hi"}`, recipient, "j1"},
		{"to with letters", `{"id":"j1","to":"+51abc987654","text":"hi"}`, recipient, "j1"},
		{"to unknown server", `{"id":"j1","to":"51987654321@example.com","text":"hi"}`, recipient, "j1"},
		{"no content", `{"id":"j1","to":"51987654321"}`, invalid, "j1"},
		{"blank text", `{"id":"j1","to":"51987654321","text":" \n "}`, invalid, "j1"},
		{"text too long", `{"id":"j1","to":"51987654321","text":"` + strings.Repeat("a", job.MaxTextLen+1) + `"}`, invalid, "j1"},
		{"text a number", `{"id":"j1","to":"51987654321","text":5}`, invalid, "j1"},
		{"two media", `{"id":"j1","to":"51987654321","document":{"data":"QQ=="},"image":{"data":"QQ=="}}`, invalid, "j1"},
		{"five media", `{"id":"j1","to":"51987654321","document":{"data":"QQ"},"image":{"data":"QQ"},"audio":{"data":"QQ"},"video":{"data":"QQ"},"sticker":{"data":"QQ"}}`, invalid, "j1"},
		{"two media, one empty", `{"id":"j1","to":"51987654321","text":"hi","document":{"data":"QQ=="},"video":{}}`, invalid, "j1"},
		{"media with data and object", `{"id":"j1","to":"51987654321","image":{"data":"QQ==","object":"x"}}`, invalid, "j1"},
		{"media with neither", `{"id":"j1","to":"51987654321","text":"hi","image":{"filename":"a.png"}}`, invalid, "j1"},
		{"media with empty data and object", `{"id":"j1","to":"51987654321","image":{"data":"","object":""}}`, invalid, "j1"},
		{"media not an object", `{"id":"j1","to":"51987654321","image":"QQ=="}`, invalid, "j1"},
		{"ptt not a bool", `{"id":"j1","to":"51987654321","audio":{"data":"QQ==","ptt":"yes"}}`, invalid, "j1"},
		{"object too long", `{"id":"j1","to":"51987654321","document":{"object":"` + strings.Repeat("o", 256) + `"}}`, invalid, "j1"},
		{"object with a newline", `{"id":"j1","to":"51987654321","document":{"object":"a\nb"}}`, invalid, "j1"},
		{"object with a NUL", `{"id":"j1","to":"51987654321","document":{"object":"a\u0000b"}}`, invalid, "j1"},
		{"filename with a control character", `{"id":"j1","to":"51987654321","document":{"data":"QQ==","filename":"a\u0007.pdf"}}`, invalid, "j1"},
		{"filename too long", `{"id":"j1","to":"51987654321","document":{"data":"QQ==","filename":"` + strings.Repeat("f", 256) + `"}}`, invalid, "j1"},
		{"not_after a date", `{"id":"j1","to":"51987654321","text":"hi","not_after":"2026-12-01"}`, invalid, "j1"},
		{"not_after without zone", `{"id":"j1","to":"51987654321","text":"hi","not_after":"2026-12-01T10:00:00"}`, invalid, "j1"},
		{"not_after a number", `{"id":"j1","to":"51987654321","text":"hi","not_after":1767225600}`, invalid, "j1"},
		{"reply_to with a space", `{"id":"j1","to":"51987654321","text":"hi","reply_to":"3EB0 C4"}`, invalid, "j1"},
		{"reply_to too long", `{"id":"j1","to":"51987654321","text":"hi","reply_to":"` + strings.Repeat("A", 129) + `"}`, invalid, "j1"},
		{"reply_to a number", `{"id":"j1","to":"51987654321","text":"hi","reply_to":7}`, invalid, "j1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j, err := job.Parse([]byte(tt.body))
			if j != nil {
				t.Errorf("Parse returned a job %+v with its error", j)
			}
			wantError(t, err, tt.code, tt.jobID)
		})
	}
}

func TestParseErrorCarriesTo(t *testing.T) {
	t.Parallel()
	_, err := job.Parse([]byte(`{"id":"j1","to":"+12","text":"hi"}`))
	if e := wantError(t, err, event.CodeInvalidRecipient, "j1"); e.To != "+12" {
		t.Errorf("To = %q, want +12", e.To)
	}
}

func TestParseClearsPTTOutsideAudio(t *testing.T) {
	t.Parallel()
	j, err := job.Parse([]byte(`{"id":"a","to":"51987654321","image":{"data":"QQ==","ptt":true}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if j.Image.PTT {
		t.Error("image PTT = true, want it cleared")
	}
	j, err = job.Parse([]byte(`{"id":"a","to":"51987654321","audio":{"data":"QQ==","ptt":true}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !j.Audio.PTT {
		t.Error("audio PTT = false, want true")
	}
}

func TestExpired(t *testing.T) {
	t.Parallel()
	deadline := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		notAfter *time.Time
		now      time.Time
		want     bool
	}{
		{"no deadline", nil, deadline.Add(1000 * time.Hour), false},
		{"before", &deadline, deadline.Add(-time.Second), false},
		{"at", &deadline, deadline, false},
		{"after", &deadline, deadline.Add(time.Nanosecond), true},
		{"after, other zone", &deadline, deadline.Add(time.Minute).In(time.FixedZone("PET", -5*3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			j := &job.Job{NotAfter: tt.notAfter}
			if got := j.Expired(tt.now); got != tt.want {
				t.Errorf("Expired(%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	notAfter := time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("", -5*3600))
	jobs := []*job.Job{
		{ID: "a", To: "+51 987 654 321", Text: "hola <b> & \"adiós\""},
		{ID: "b", To: "120363025246125888@g.us", Audio: &job.Media{Object: "voice.ogg", Mimetype: "audio/ogg; codecs=opus", PTT: true}},
		{ID: "c", To: "51987654321", Text: "caption", Document: &job.Media{Data: pdfDataURL, Filename: "t.pdf"}, ReplyTo: "3EB0AA", NotAfter: &notAfter},
	}
	for _, want := range jobs {
		b, err := want.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", want, err)
		}
		got, err := job.Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		if !equalJobs(got, want) {
			t.Errorf("Parse(Marshal(%+v)) = %+v", want, got)
		}
	}
}

func TestMarshalInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		job   job.Job
		code  string
		jobID string
	}{
		{"no id", job.Job{To: "51987654321", Text: "hi"}, event.CodeInvalidJob, ""},
		{"bad recipient", job.Job{ID: "a", To: "12", Text: "hi"}, event.CodeInvalidRecipient, "a"},
		{"no content", job.Job{ID: "a", To: "51987654321"}, event.CodeInvalidJob, "a"},
		{"two media", job.Job{ID: "a", To: "51987654321", Image: &job.Media{Data: "QQ"}, Video: &job.Media{Data: "QQ"}}, event.CodeInvalidJob, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.job.Marshal()
			if b != nil {
				t.Errorf("Marshal returned %s with its error", b)
			}
			wantError(t, err, tt.code, tt.jobID)
		})
	}
}

// TestDecodeNewIDValidate is how admin publishes a job sent without an id.
func TestDecodeNewIDValidate(t *testing.T) {
	t.Parallel()
	j, err := job.Decode([]byte(`{"to":"+51987654321","text":"hi"}`))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	wantError(t, j.Validate(), event.CodeInvalidJob, "")
	j.ID = job.NewID()
	b, err := j.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	got, err := job.Parse(b)
	if err != nil || got.ID != j.ID {
		t.Fatalf("Parse(%s) = %+v, %v; want id %q", b, got, err, j.ID)
	}
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	_, err := job.Parse([]byte(`{}`))
	if got := job.CodeOf(fmt.Errorf("consume: %w", err)); got != event.CodeInvalidJob {
		t.Errorf("CodeOf(wrapped) = %q, want invalid_job", got)
	}
	if got := job.CodeOf(errors.New("other")); got != "" {
		t.Errorf("CodeOf(other) = %q, want empty", got)
	}
	if got := job.CodeOf(nil); got != "" {
		t.Errorf("CodeOf(nil) = %q, want empty", got)
	}
}

// equalJobs compares jobs, with NotAfter compared as instants.
func equalJobs(a, b *job.Job) bool {
	if (a.NotAfter == nil) != (b.NotAfter == nil) {
		return false
	}
	if a.NotAfter != nil && !a.NotAfter.Equal(*b.NotAfter) {
		return false
	}
	ac, bc := *a, *b
	ac.NotAfter, bc.NotAfter = nil, nil
	return reflect.DeepEqual(ac, bc)
}
