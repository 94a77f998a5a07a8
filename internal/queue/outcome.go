package queue

import (
	"strconv"
	"time"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/vocab"
)

// sentEventID is the id of the sent event of a job.
func sentEventID(tenant, jobID string) string {
	return event.StableID(tenant, vocab.EventSent.Token, jobID)
}

// failedEventID is the id of the failed event of a job.
func failedEventID(tenant, jobID string) string {
	return event.StableID(tenant, vocab.EventFailed.Token, jobID)
}

// report builds the event that reports a finished job.
func report(names bus.Names, j *Job) (outbox.Message, error) {
	if j.Status == StatusSent {
		var at time.Time
		if j.SentAt != nil {
			at = *j.SentAt
		}
		ev, err := event.New(j.Tenant, vocab.EventSent, sentEventID(j.Tenant, j.ID), j.ID, at,
			event.Sent{JobID: j.ID, MessageID: j.MessageID, To: j.To, ToJID: j.ToJID, Timestamp: at})
		if err != nil {
			return outbox.Message{}, err
		}
		return outbox.Event(names.Event(j.Tenant, vocab.EventSent), ev)
	}
	ev, err := event.New(j.Tenant, vocab.EventFailed, failedEventID(j.Tenant, j.ID), j.ID, time.Now(),
		event.Failed{JobID: j.ID, To: j.To, Code: j.Code, Error: j.Error, Attempts: max(j.Attempts, 1)})
	if err != nil {
		return outbox.Message{}, err
	}
	return outbox.Event(names.Event(j.Tenant, vocab.EventFailed), ev)
}

// DeadLetter is the message that keeps a failed job's original bytes in
// the DLQ stream, with its error. jobID is "" for a message without a
// usable id; seq (its stream sequence) then keys the letter.
func DeadLetter(names bus.Names, tenant, jobID string, seq uint64, payload []byte, code, errText string) outbox.Message {
	key := jobID
	if key == "" {
		key = "seq:" + strconv.FormatUint(seq, 10)
	}
	return outbox.Message{
		ID:      event.StableID(tenant, "dlq", key),
		Subject: names.DLQ(tenant),
		Payload: payload,
		Header:  map[string]string{"Wa-Error-Code": code, "Wa-Error": errText, "Wa-Job-Id": jobID},
	}
}

// failure builds the failed event and the dead letter of a job that has
// just failed for good.
func failure(names bus.Names, j *Job, payload []byte) ([]outbox.Message, error) {
	ev, err := report(names, j)
	if err != nil {
		return nil, err
	}
	return []outbox.Message{ev, DeadLetter(names, j.Tenant, j.ID, uint64(max(j.Seq, 0)), payload, j.Code, j.Error)}, nil
}
