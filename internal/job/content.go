package job

import (
	"strings"
	"unicode/utf8"

	"github.com/wabus/wabus/internal/vocab"
)

// Limits of the v2 contents, WhatsApp's own where it has one.
const (
	// MaxTypingSeconds is the most typing_seconds a job may ask for.
	MaxTypingSeconds = 25
	// MinPollOptions and MaxPollOptions bound a poll's options, as
	// WhatsApp's clients do.
	MinPollOptions = 2
	MaxPollOptions = 12
	// MaxPollQuestionLen and MaxPollOptionLen are the most characters of a
	// poll's question and of each option (WhatsApp's clients' limits).
	MaxPollQuestionLen = 255
	MaxPollOptionLen   = 100
	// MaxLabelLen is the most bytes of a location's name or address and of
	// a contact's name.
	MaxLabelLen = 1024
	// MaxVCardLen is the most bytes of a contact's vCard.
	MaxVCardLen = 64 << 10
	// MaxReadIDs is the most message ids one read job marks.
	MaxReadIDs = 256
	// MaxThumbnailLen is the most bytes of a video's thumbnail as given
	// (base64 or a data: URL).
	MaxThumbnailLen = 512 << 10
)

// contents lists the content objects the job has, media first, in the
// order of the contract's tables.
func (j *Job) contents() []string {
	var kinds []string
	add := func(present bool, kind string) {
		if present {
			kinds = append(kinds, kind)
		}
	}
	add(j.Document != nil, vocab.ContentDocument)
	add(j.Image != nil, vocab.ContentImage)
	add(j.Audio != nil, vocab.ContentAudio)
	add(j.Video != nil, vocab.ContentVideo)
	add(j.Sticker != nil, vocab.ContentSticker)
	return append(kinds, j.Contents.Kinds()...)
}

// validateObject checks the one v2 content object of a job: text is not
// allowed beside it (an edit has its own), reply_to not beside a
// reaction, edit, revoke or read, typing_seconds not beside a read.
func (j *Job) validateObject(kind string) *Error {
	if j.Text != "" {
		return invalidJob("text is not allowed beside %s", kind)
	}
	switch kind {
	case vocab.ContentReaction, vocab.ContentEdit, vocab.ContentRevoke, vocab.ContentRead:
		if j.ReplyTo != "" {
			return invalidJob("reply_to is not allowed beside %s", kind)
		}
	}
	switch kind {
	case vocab.ContentReaction:
		return j.validateReaction()
	case vocab.ContentEdit:
		return validateEdit(j.Edit.MessageID, j.Edit.Text)
	case vocab.ContentRevoke:
		return validateTarget("revoke", j.Revoke.MessageID)
	case vocab.ContentLocation:
		return j.validateLocation()
	case vocab.ContentContact:
		return j.validateContact()
	case vocab.ContentPoll:
		return j.validatePoll()
	}
	return j.validateRead()
}

func validateTarget(kind, id string) *Error {
	if id == "" {
		return invalidJob("%s.message_id is required", kind)
	}
	if !validID(id) {
		return invalidJob("%s.message_id must be 1-%d characters of [A-Za-z0-9._:-]", kind, MaxIDLen)
	}
	return nil
}

func (j *Job) validateReaction() *Error {
	r := j.Reaction
	if err := validateTarget("reaction", r.MessageID); err != nil {
		return err
	}
	// an emoji is a few code points (skin tones, ZWJ sequences); 32 bytes
	// holds the longest
	if len(r.Emoji) > 32 || !utf8.ValidString(r.Emoji) || strings.TrimSpace(r.Emoji) != r.Emoji {
		return invalidJob("reaction.emoji must be one emoji (or empty to remove the reaction)")
	}
	if r.Sender == "" {
		return nil
	}
	if !j.toGroup() {
		return invalidJob("reaction.sender is only for groups")
	}
	if _, ok := ParseSender(r.Sender); !ok {
		return invalidJob("reaction.sender must be a phone number or a user JID")
	}
	return nil
}

func validateEdit(id, text string) *Error {
	if err := validateTarget("edit", id); err != nil {
		return err
	}
	if !hasText(text) {
		return invalidJob("edit.text is required")
	}
	if n := utf8.RuneCountInString(text); n > MaxTextLen {
		return invalidJob("edit.text has %d characters, limit %d", n, MaxTextLen)
	}
	return nil
}

func (j *Job) validateLocation() *Error {
	l := j.Location
	switch {
	case l.Latitude == nil:
		return invalidJob("location.latitude is required")
	case l.Longitude == nil:
		return invalidJob("location.longitude is required")
	case *l.Latitude < -90 || *l.Latitude > 90:
		return invalidJob("location.latitude must be between -90 and 90")
	case *l.Longitude < -180 || *l.Longitude > 180:
		return invalidJob("location.longitude must be between -180 and 180")
	case !validLabel(l.Name):
		return invalidJob("location.name must be at most %d bytes of text", MaxLabelLen)
	case !validLabel(l.Address):
		return invalidJob("location.address must be at most %d bytes of text", MaxLabelLen)
	}
	return nil
}

func (j *Job) validateContact() *Error {
	c := j.Contact
	if c.VCard != "" {
		if c.Name != "" || c.Phone != "" {
			return invalidJob("contact has a vcard or a name and phone, not both")
		}
		return validateVCard(c.VCard)
	}
	switch {
	case !hasText(c.Name):
		return invalidJob("contact.name is required (or contact.vcard)")
	case !validLabel(c.Name) || strings.ContainsAny(c.Name, "\r\n"):
		return invalidJob("contact.name must be one line of at most %d bytes", MaxLabelLen)
	case c.Phone == "":
		return invalidJob("contact.phone is required beside contact.name")
	}
	if _, ok := phoneDigits(c.Phone); !ok {
		return invalidJob("contact.phone must be a phone number of %d-%d digits", MinPhoneDigits, MaxPhoneDigits)
	}
	return nil
}

func validateVCard(v string) *Error {
	upper := strings.ToUpper(strings.TrimSpace(v))
	switch {
	case len(v) > MaxVCardLen || !utf8.ValidString(v):
		return invalidJob("contact.vcard must be at most %d bytes of text", MaxVCardLen)
	case !strings.HasPrefix(upper, "BEGIN:VCARD") || !strings.HasSuffix(upper, "END:VCARD"):
		return invalidJob("contact.vcard must run from BEGIN:VCARD to END:VCARD")
	}
	return nil
}

func (j *Job) validatePoll() *Error {
	p := j.Poll
	if !hasText(p.Question) {
		return invalidJob("poll.question is required")
	}
	if n := utf8.RuneCountInString(p.Question); n > MaxPollQuestionLen || !utf8.ValidString(p.Question) {
		return invalidJob("poll.question must be at most %d characters", MaxPollQuestionLen)
	}
	if n := len(p.Options); n < MinPollOptions || n > MaxPollOptions {
		return invalidJob("poll.options must have %d-%d options, got %d", MinPollOptions, MaxPollOptions, n)
	}
	seen := map[string]bool{}
	for i, o := range p.Options {
		switch {
		case !hasText(o):
			return invalidJob("poll.options[%d] is empty", i)
		case utf8.RuneCountInString(o) > MaxPollOptionLen || !utf8.ValidString(o):
			return invalidJob("poll.options[%d] must be at most %d characters", i, MaxPollOptionLen)
		case seen[o]:
			return invalidJob("poll.options[%d] repeats an option; options must be distinct", i)
		}
		seen[o] = true
	}
	return nil
}

func (j *Job) validateRead() *Error {
	r := j.Read
	if j.TypingSeconds != 0 {
		return invalidJob("typing_seconds is not allowed beside read")
	}
	if n := len(r.MessageIDs); n == 0 || n > MaxReadIDs {
		return invalidJob("read.message_ids must have 1-%d ids, got %d", MaxReadIDs, n)
	}
	for i, id := range r.MessageIDs {
		if !validID(id) {
			return invalidJob("read.message_ids[%d] must be 1-%d characters of [A-Za-z0-9._:-]", i, MaxIDLen)
		}
	}
	switch {
	case j.toGroup() && r.Sender == "":
		return invalidJob("read.sender is required in groups")
	case !j.toGroup() && r.Sender != "":
		return invalidJob("read.sender is only for groups")
	case r.Sender != "":
		if _, ok := ParseSender(r.Sender); !ok {
			return invalidJob("read.sender must be a phone number or a user JID")
		}
	}
	return nil
}

// toGroup reports whether the job's recipient is a group.
func (j *Job) toGroup() bool {
	jid, _, err := parseRecipient(j.To)
	return err == nil && strings.HasSuffix(jid, "@"+GroupServer)
}

// ParseSender normalizes a group member named by a job (a reaction's or a
// read's sender): a phone becomes <digits>@s.whatsapp.net; a user or @lid
// JID is kept, its server in lower case. ok is false for anything else,
// groups included.
func ParseSender(s string) (jid string, ok bool) {
	jid, _, err := parseRecipient(s)
	if err != nil || strings.HasSuffix(jid, "@"+GroupServer) {
		return "", false
	}
	return jid, true
}

// validLabel reports whether s is at most MaxLabelLen bytes of valid UTF-8.
func validLabel(s string) bool {
	return len(s) <= MaxLabelLen && utf8.ValidString(s)
}
