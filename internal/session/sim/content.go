package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/media"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// parseContent reads the content object an inbound request may carry
// instead of text: any one content object of a send job but read, in the
// same shape and under the same rules (internal/job). Media must be inline
// data. The object is kept as a job's JSON in in.content.
func (in *inbound) parseContent(body []byte) error {
	j, err := job.Decode(body)
	if err != nil {
		return &ctlError{"invalid_request", err.Error()}
	}
	in.kind = j.Kind()
	if in.kind == vocab.ContentText {
		return nil
	}
	if in.kind == vocab.ContentRead {
		return &ctlError{"invalid_request", "read is not a message a contact sends"}
	}
	j.ID, j.To = "sim-inbound", in.sender
	if err := j.Validate(); err != nil {
		return &ctlError{"invalid_request", err.Error()}
	}
	if m := j.Media(); m != nil {
		if m.Data == "" {
			return &ctlError{"invalid_request", in.kind + " must have inline data"}
		}
		if _, _, err := job.DecodeData(m.Data); err != nil {
			return &ctlError{"invalid_request", err.Error()}
		}
	}
	j.ID, j.To = "", ""
	if in.content, err = json.Marshal(j); err != nil {
		return &ctlError{"invalid_request", "encode content: " + err.Error()}
	}
	return nil
}

// message is the inbound message as the client reports it: its type, the
// content object, and the v1 text (the emoji of a reaction, a location's
// coordinates and labels, a contact's vCard, a poll's question).
func (in *inbound) message() wa.Message {
	ev := in.event()
	var j job.Job
	if in.kind == "" || in.kind == vocab.ContentText || json.Unmarshal(in.content, &j) != nil {
		return wa.Message{Data: ev}
	}
	ev.Type, ev.Text, ev.ReplyTo = in.kind, j.Text, j.ReplyTo
	switch in.kind {
	case vocab.ContentReaction:
		ev.Reaction = &event.Reaction{MessageID: j.Reaction.MessageID, Emoji: j.Reaction.Emoji}
		ev.Text, ev.ReplyTo = j.Reaction.Emoji, j.Reaction.MessageID
	case vocab.ContentEdit:
		ev.Edit, ev.Text, ev.ReplyTo = j.Edit, j.Edit.Text, j.Edit.MessageID
	case vocab.ContentRevoke:
		ev.Revoke, ev.ReplyTo = j.Revoke, j.Revoke.MessageID
	case vocab.ContentLocation:
		ev.Location, ev.Text = j.Location, locationText(j.Location)
	case vocab.ContentContact:
		ev.Contact = job.ContactCard(j.Contact)
		ev.Text = ev.Contact.VCard
	case vocab.ContentPoll:
		ev.Poll, ev.Text = j.Poll, j.Poll.Question
	}
	msg := wa.Message{Data: ev}
	if m := j.Media(); m != nil {
		msg.Media = inboundMedia(in.kind, m)
	}
	return msg
}

// inboundMedia is an attachment the simulated contact sent inline.
func inboundMedia(kind string, m *job.Media) *wa.InboundMedia {
	data, declared, _ := job.DecodeData(m.Data) // checked when it was accepted
	mt := media.Mimetype(kind, m.PTT, job.DetectMimetype(data, m.Filename, cmp.Or(m.Mimetype, declared)), data)
	return &wa.InboundMedia{
		Mimetype: mt, Filename: m.Filename, Size: int64(len(data)),
		Download: func(context.Context) ([]byte, error) { return data, nil },
	}
}

// locationText renders a location as the driver's v1 text: "lat,long",
// then its name and address, one a line.
func locationText(l *event.Location) string {
	lines := []string{strconv.FormatFloat(*l.Latitude, 'f', -1, 64) + "," + strconv.FormatFloat(*l.Longitude, 'f', -1, 64)}
	for _, s := range []string{l.Name, l.Address} {
		if s != "" {
			lines = append(lines, s)
		}
	}
	return strings.Join(lines, "\n")
}
