package send

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// EditWindow is how long after it was sent WhatsApp lets a message be
// edited; an edit job past it fails with invalid_job.
const EditWindow = 15 * time.Minute

// content fills in the v2 content object of a job for the driver: the
// job's own, but for a reaction's and a read's sender and a contact's
// vCard. An edit or revoke must name a message this tenant sent to the
// same chat (unknown_message otherwise); a reaction names its target's
// author.
func (w *work) content(out *wa.OutMessage, jid string) *job.Error {
	j := w.job
	out.Contents = j.Contents
	switch out.Kind {
	case vocab.ContentReaction:
		return w.reaction(out, jid)
	case vocab.ContentEdit:
		if _, jerr := w.target("edit", j.Edit.MessageID, jid); jerr != nil {
			return jerr
		}
	case vocab.ContentRevoke:
		if _, jerr := w.target("revoke", j.Revoke.MessageID, jid); jerr != nil {
			return jerr
		}
	case vocab.ContentContact:
		out.Contact = job.ContactCard(j.Contact)
	case vocab.ContentRead:
		r := event.Read{MessageIDs: j.Read.MessageIDs}
		if j.Read.Sender != "" {
			r.Sender, _ = job.ParseSender(j.Read.Sender)
		}
		out.Read = &r
	}
	return nil
}

// reaction names the target's author: none for the tenant's own message,
// the contact in a one-to-one chat, the job's sender in a group.
func (w *work) reaction(out *wa.OutMessage, jid string) *job.Error {
	j := w.job
	r := *j.Reaction
	r.Sender = ""
	_, jerr := w.target("reaction", r.MessageID, jid)
	switch {
	case jerr == nil:
	case jerr.Code != event.CodeUnknownMessage:
		return jerr
	case j.Reaction.Sender != "":
		r.Sender, _ = job.ParseSender(j.Reaction.Sender)
	case strings.HasSuffix(jid, "@"+job.GroupServer):
		return w.invalid("reaction.sender is required in groups to react to a message this tenant did not send")
	default:
		r.Sender = jid
	}
	out.Reaction = &r
	return nil
}

// target looks up the message an edit, revoke or reaction names among what
// this tenant sent. It fails with unknown_message when the tenant did not
// send it to this chat, invalid_job when the kind of message or, for an
// edit, its age does not allow it, and without a code (transient) when
// Postgres fails.
func (w *work) target(kind, id, jid string) (queue.SentMessage, *job.Error) {
	j := w.job
	w.l.settle() // an outcome recorded just now is in the table
	m, err := w.p.store.SentMessage(w.l.ctx, w.l.tenant, id)
	if errors.Is(err, queue.ErrNotFound) {
		return m, &job.Error{Code: event.CodeUnknownMessage, JobID: j.ID, To: j.To,
			Msg: fmt.Sprintf("%s.message_id %s is not a message this tenant sent", kind, id)}
	}
	if err != nil {
		return m, &job.Error{Msg: "look up " + kind + " target: " + err.Error()}
	}
	if !sameChat(m, jid) {
		return m, &job.Error{Code: event.CodeUnknownMessage, JobID: j.ID, To: j.To,
			Msg: fmt.Sprintf("%s.message_id %s was not sent to this chat", kind, id)}
	}
	switch {
	case kind == "edit" && !editable(m.Kind):
		return m, w.invalid(fmt.Sprintf("edit.message_id %s is a %s; only text messages can be edited", id, m.Kind))
	case kind == "edit" && time.Since(m.SentAt) > EditWindow:
		return m, w.invalid(fmt.Sprintf("edit.message_id %s was sent at %s, more than WhatsApp's %s edit window ago",
			id, m.SentAt.UTC().Format(time.RFC3339), EditWindow))
	case !isMessage(m.Kind):
		return m, w.invalid(fmt.Sprintf("%s.message_id %s is a %s, not a message", kind, id, m.Kind))
	}
	return m, nil
}

// sameChat reports whether the sent job m went to jid.
func sameChat(m queue.SentMessage, jid string) bool {
	sent, _, err := (&job.Job{To: m.To}).Recipient()
	return err == nil && sent == jid || m.ToJID == jid
}

// editable reports whether a sent job of kind can be edited: WhatsApp's
// edits replace a text (the gateway does not edit captions).
func editable(kind string) bool { return kind == vocab.ContentText }

// isMessage reports whether a sent job of kind is a message a user sees
// (not a reaction, edit, revoke or read).
func isMessage(kind string) bool {
	switch kind {
	case vocab.ContentReaction, vocab.ContentEdit, vocab.ContentRevoke, vocab.ContentRead:
		return false
	}
	return true
}

func (w *work) invalid(msg string) *job.Error {
	return &job.Error{Code: event.CodeInvalidJob, JobID: w.job.ID, To: w.job.To, Msg: msg}
}

// describe reads what a phone shows beside the attachment; a sticker that
// is not WebP and a thumbnail that is not an image are media_invalid.
func (w *work) describe(out *wa.OutMessage, m *job.Media, declared string) *job.Error {
	var thumb []byte
	if m.Thumbnail != "" {
		b, _, err := job.DecodeData(m.Thumbnail)
		if err != nil {
			return &job.Error{Code: event.CodeMediaInvalid, JobID: w.job.ID, To: w.job.To, Msg: "video.thumbnail", Err: err}
		}
		thumb = b
	}
	info, err := media.Describe(out.Kind, out.PTT, declared, out.Media, thumb)
	if err != nil {
		return &job.Error{Code: event.CodeMediaInvalid, JobID: w.job.ID, To: w.job.To, Msg: out.Kind, Err: err}
	}
	out.Mimetype, out.Width, out.Height, out.Seconds = info.Mimetype, info.Width, info.Height, info.Seconds
	out.Waveform, out.Thumbnail = info.Waveform, info.Thumbnail
	return nil
}
