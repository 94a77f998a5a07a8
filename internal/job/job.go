package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/vocab"
)

// Field limits enforced by Validate.
const (
	// MaxIDLen is the longest job id and reply_to.
	MaxIDLen = 128
	// MaxTextLen is the most characters (runes) of text or caption, WhatsApp's
	// own limit for a message.
	MaxTextLen = 65536
	// MaxNameLen is the longest object name and filename, in bytes.
	MaxNameLen = 255
)

// Job is a send job, the JSON body of a message on wa.send.<tenant>.
type Job struct {
	// ID is the idempotency key: 1-128 characters of [A-Za-z0-9._:-].
	ID string `json:"id"`
	// To is the recipient as given: a phone or a JID (see Recipient).
	To string `json:"to"`
	// Text is the message, or the caption when there is a media object.
	Text     string `json:"text,omitempty"`
	Document *Media `json:"document,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Audio    *Media `json:"audio,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Sticker  *Media `json:"sticker,omitempty"`
	// The v2 contents, each exclusive with the media objects and with
	// each other (see content.go for their rules).
	event.Contents
	// ReplyTo is the WhatsApp id of a message to quote, if any.
	ReplyTo string `json:"reply_to,omitempty"`
	// TypingSeconds is how long the tenant shows "typing…" (or
	// "recording…" before a voice note) before sending, 0-25.
	TypingSeconds int `json:"typing_seconds,omitempty"`
	// NotAfter is when the job expires instead of being sent late, if ever.
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// Media is the media object of a job: exactly one of Data (base64 or a data:
// URL, see DecodeData) and Object (a name in the wa-media bucket).
type Media struct {
	Data     string `json:"data,omitempty"`
	Object   string `json:"object,omitempty"`
	Filename string `json:"filename,omitempty"`
	Mimetype string `json:"mimetype,omitempty"`
	// PTT sends audio as a voice note. Decode clears it on other kinds.
	PTT bool `json:"ptt,omitempty"`
	// Thumbnail is a JPEG, PNG or GIF preview of a video (base64 or a
	// data: URL), which the gateway cannot draw from the video itself.
	// Only a video takes it.
	Thumbnail string `json:"thumbnail,omitempty"`
}

// wire is the JSON shape Decode reads: a Job whose not_after is a string,
// so that a bad time is reported as invalid_job with the job id (the
// outer field hides the embedded one).
type wire struct {
	fields
	NotAfter string `json:"not_after"`
}

// fields is Job without its methods, for wire to embed.
type fields Job

// Parse decodes and validates a job: Decode, then Validate. It returns the
// job or an *Error with code invalid_job or invalid_recipient; the error's
// JobID is empty when the job has no usable id.
func Parse(data []byte) (*Job, error) {
	j, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	return j, nil
}

// Decode decodes a job without validating it, for a caller that fills in
// fields (such as a missing id, see NewID) before calling Validate. It clears
// PTT on media other than audio. It returns an *Error with code invalid_job
// for input that is not a JSON object, a field of the wrong JSON type or a
// not_after that is not RFC 3339.
func Decode(data []byte) (*Job, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalidJob("job is not a JSON object")
	}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		e := invalidJob("malformed JSON")
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			e = invalidJob("field %q has the wrong type %s", te.Field, te.Value)
			e.JobID, e.To = usableID(w.ID), w.To
		}
		e.Err = err
		return nil, e
	}
	j := (*Job)(&w.fields)
	for _, m := range []*Media{j.Document, j.Image, j.Video, j.Sticker} {
		if m != nil {
			m.PTT = false
		}
	}
	if w.NotAfter != "" {
		t, err := time.Parse(time.RFC3339, w.NotAfter)
		if err != nil {
			e := j.fail(invalidJob("not_after is not an RFC 3339 time"))
			e.Err = err
			return nil, e
		}
		j.NotAfter = &t
	}
	return j, nil
}

// Validate checks the job against the contract's rules (see the package doc).
// It returns an *Error with code invalid_job, or invalid_recipient for a "to"
// that is neither a phone nor a JID.
func (j *Job) Validate() error {
	if !validID(j.ID) {
		if j.ID == "" {
			return j.fail(invalidJob("id is required"))
		}
		return j.fail(invalidJob("id must be 1-%d characters of [A-Za-z0-9._:-]", MaxIDLen))
	}
	if _, _, err := parseRecipient(j.To); err != nil {
		return j.fail(err)
	}
	if err := j.validateContent(); err != nil {
		return j.fail(err)
	}
	if j.ReplyTo != "" && !validID(j.ReplyTo) {
		return j.fail(invalidJob("reply_to must be 1-%d characters of [A-Za-z0-9._:-]", MaxIDLen))
	}
	return nil
}

func (j *Job) validateContent() *Error {
	if n := utf8.RuneCountInString(j.Text); n > MaxTextLen {
		return invalidJob("text has %d characters, limit %d", n, MaxTextLen)
	}
	if j.TypingSeconds < 0 || j.TypingSeconds > MaxTypingSeconds {
		return invalidJob("typing_seconds must be 0-%d, got %d", MaxTypingSeconds, j.TypingSeconds)
	}
	kinds := j.contents()
	kind, m, n := j.media()
	switch {
	case len(kinds) > 1 && n == len(kinds):
		return invalidJob("a job has at most one media object, got %d", n)
	case len(kinds) > 1:
		return invalidJob("a job has at most one content object, got %s and %s", kinds[0], kinds[1])
	case n == 1:
		return validateMedia(kind, m)
	case len(kinds) == 1:
		return j.validateObject(kinds[0])
	case !hasText(j.Text):
		return invalidJob("a job needs text or a content object")
	}
	return nil
}

func validateMedia(kind string, m *Media) *Error {
	switch {
	case m.Data != "" && m.Object != "":
		return invalidJob("%s has both data and object", kind)
	case m.Data == "" && m.Object == "":
		return invalidJob("%s needs data or object", kind)
	case m.Object != "" && !validName(m.Object):
		return invalidJob("%s object must be 1-%d bytes without control characters", kind, MaxNameLen)
	case m.Filename != "" && !validName(m.Filename):
		return invalidJob("%s filename must be at most %d bytes without control characters", kind, MaxNameLen)
	case m.Thumbnail != "" && kind != vocab.ContentVideo:
		return invalidJob("%s.thumbnail is only taken on video", kind)
	case len(m.Thumbnail) > MaxThumbnailLen:
		return invalidJob("video.thumbnail is %d bytes, limit %d", len(m.Thumbnail), MaxThumbnailLen)
	}
	return nil
}

// Kind returns the content kind: the content object's key (document,
// image, audio, video, sticker, reaction, edit, revoke, location, contact,
// poll or read) or "text" when there is none.
func (j *Job) Kind() string {
	if kinds := j.contents(); len(kinds) > 0 {
		return kinds[0]
	}
	return vocab.ContentText
}

// Media returns the job's media object, or nil for a text job.
func (j *Job) Media() *Media {
	_, m, _ := j.media()
	return m
}

// media returns the kind and object of the first media object and how many
// there are.
func (j *Job) media() (kind string, m *Media, n int) {
	all := [...]struct {
		kind string
		m    *Media
	}{
		{vocab.ContentDocument, j.Document}, {vocab.ContentImage, j.Image}, {vocab.ContentAudio, j.Audio},
		{vocab.ContentVideo, j.Video}, {vocab.ContentSticker, j.Sticker},
	}
	kind = vocab.ContentText
	for _, c := range all {
		if c.m == nil {
			continue
		}
		if n == 0 {
			kind, m = c.kind, c.m
		}
		n++
	}
	return kind, m, n
}

// Expired reports whether now is past the job's NotAfter. A job without
// NotAfter never expires.
func (j *Job) Expired(now time.Time) bool {
	return j.NotAfter != nil && now.After(*j.NotAfter)
}

// Marshal validates the job and encodes it as JSON, the body to publish on
// wa.send.<tenant>. It returns Validate's *Error for an invalid job, so what
// it encodes always passes Parse.
func (j *Job) Marshal() ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(j)
	if err != nil {
		e := j.fail(invalidJob("encode job"))
		e.Err = err
		return nil, e
	}
	return b, nil
}

// fail fills e's JobID (when the id is usable) and To from j.
func (j *Job) fail(e *Error) *Error {
	e.JobID, e.To = usableID(j.ID), j.To
	return e
}

// usableID returns id if it is a valid job id, "" otherwise.
func usableID(id string) string {
	if validID(id) {
		return id
	}
	return ""
}

// validID reports whether s is 1-MaxIDLen characters of [A-Za-z0-9._:-].
func validID(s string) bool {
	if len(s) == 0 || len(s) > MaxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// validName reports whether s is 1-MaxNameLen bytes of valid UTF-8 without
// control characters.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// hasText reports whether s has a character other than white space.
func hasText(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return true
		}
	}
	return false
}
