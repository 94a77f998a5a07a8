package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/session/wa"
)

// work is one delivery of one job.
type work struct {
	p    *Pipeline
	l    *loop
	msg  jetstream.Msg
	meta *jetstream.MsgMetadata
	job  *job.Job
	// attempt counts this delivery's send attempts (transient failures
	// are retried in place, so later jobs wait behind this one).
	attempt int
	// back: the job was handed back to JetStream.
	back bool
	// toJID is where WhatsApp delivered this delivery's message (its sent
	// event's to_jid; a replayed outcome has none).
	toJID string
}

// handle takes a fetched job to exactly one of: acknowledged with its
// outcome recorded (true), or handed back to JetStream to come again
// (false: the caller hands back the jobs fetched after it too).
func (p *Pipeline) handle(l *loop, msg jetstream.Msg) (done bool) {
	w := &work{p: p, l: l, msg: msg}
	defer func() {
		if r := recover(); r != nil {
			p.metrics.panics.Inc()
			l.log.Error("send panic recovered; job goes to the DLQ", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			done = w.poisoned(r)
		}
	}()
	meta, err := msg.Metadata()
	if err != nil {
		l.log.ErrorContext(l.ctx, "job without metadata", slog.String("error", err.Error()))
		_ = msg.Term()
		return true
	}
	w.meta = meta
	w.job, err = job.Parse(msg.Data())
	if err != nil {
		w.fail(jobErr(err))
		return !w.back
	}
	prev, err := p.lookups.get(l.ctx, l.tenant, w.job.ID)
	switch {
	case err != nil:
		w.handBack(err)
	case prev != nil:
		w.replay(prev)
	default:
		w.send()
	}
	return !w.back
}

func jobErr(err error) *job.Error {
	var je *job.Error
	if errors.As(err, &je) {
		return je
	}
	return &job.Error{Code: event.CodeInvalidJob, Msg: err.Error()}
}

// send delivers a valid job that has no outcome yet. A transient failure
// is retried here, after a growing delay, up to MaxAttempts.
func (w *work) send() {
	j := w.job
	for w.attempt = 1; ; w.attempt++ {
		if j.Expired(time.Now()) {
			w.fail(&job.Error{Code: event.CodeExpired, JobID: j.ID, To: j.To, Msg: "not_after " + j.NotAfter.Format(time.RFC3339) + " has passed"})
			return
		}
		conn := w.l.sess.Conn()
		if conn == nil || !w.l.sess.Usable() {
			w.handBack(wa.ErrNotConnected)
			return
		}
		out, jerr := w.build(conn)
		var err error
		if jerr == nil {
			var res *wa.SendResult
			if res, err = conn.Send(w.l.ctx, out); err == nil {
				w.sent(out, res)
				return
			}
		}
		var se *wa.SendError
		switch {
		case jerr != nil && jerr.Code != "":
			w.fail(jerr)
			return
		case jerr != nil:
			err = errors.New(jerr.Msg)
		case errors.As(err, &se):
			w.fail(&job.Error{Code: se.Code, JobID: j.ID, To: j.To, Msg: se.Err.Error()})
			return
		case errors.Is(err, wa.ErrNotConnected), w.l.ctx.Err() != nil:
			w.handBack(err)
			return
		}
		if w.attempt >= w.p.cfg.MaxAttempts {
			w.fail(w.exhausted(err))
			return
		}
		if !w.retryAfter(err) {
			w.handBack(err)
			return
		}
	}
}

// build resolves the recipient and the media of the job.
func (w *work) build(conn wa.Conn) (*wa.OutMessage, *job.Error) {
	j := w.job
	jid, phone, err := j.Recipient()
	if err != nil {
		return nil, jobErr(err)
	}
	if phone != "" {
		registered, err := w.p.numbers.lookup(w.l.ctx, conn, phone)
		if err != nil { // transient: an error without a code is retried
			return nil, &job.Error{Msg: "registration lookup: " + err.Error()}
		}
		if registered == "" {
			return nil, &job.Error{Code: event.CodeNotOnWhatsApp, JobID: j.ID, To: j.To, Msg: "+" + phone + " is not on whatsapp"}
		}
		jid = registered
	}
	out := &wa.OutMessage{
		ID: job.MessageID(w.l.tenant, j.ID), JobID: j.ID, To: jid, Kind: j.Kind(), Text: j.Text, ReplyTo: j.ReplyTo,
	}
	if m := j.Media(); m != nil {
		if jerr := w.media(out, m); jerr != nil {
			return nil, jerr
		}
	}
	return out, nil
}

// media loads the bytes of a media job (inline or from the media bucket).
func (w *work) media(out *wa.OutMessage, m *job.Media) *job.Error {
	j := w.job
	var data []byte
	declared := m.Mimetype
	if m.Object != "" {
		b, err := w.p.object(w.l.ctx, m.Object)
		if err != nil {
			return &job.Error{Code: event.CodeMediaInvalid, JobID: j.ID, To: j.To, Msg: err.Error()}
		}
		data = b
	} else {
		b, mt, err := job.DecodeData(m.Data)
		if err != nil {
			je := jobErr(err)
			je.JobID, je.To = j.ID, j.To
			return je
		}
		data, declared = b, cmpStr(declared, mt)
	}
	if err := job.CheckSize(j.Kind(), len(data)); err != nil {
		je := jobErr(err)
		je.JobID, je.To = j.ID, j.To
		return je
	}
	out.Media, out.Filename, out.PTT = data, m.Filename, m.PTT
	out.Mimetype = job.DetectMimetype(data, m.Filename, declared)
	return nil
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// object reads a media object from the wa-media bucket.
func (p *Pipeline) object(ctx context.Context, name string) ([]byte, error) {
	store, err := p.js.ObjectStore(ctx, p.names.MediaBucket())
	if err != nil {
		return nil, fmt.Errorf("open media bucket: %w", err)
	}
	b, err := store.GetBytes(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("media object %q: %w", name, err)
	}
	return b, nil
}

// sent records the outcome and acknowledges the job.
func (w *work) sent(out *wa.OutMessage, res *wa.SendResult) {
	at := res.Timestamp.UTC()
	w.toJID = res.ToJID
	id := event.StableID(w.l.tenant, bus.KindSent, w.job.ID)
	e := entry{status: "sent", messageID: out.ID, eventID: id, recipient: w.job.To, attempts: w.attempt, sentAt: at}
	msgs, err := w.outcomeMessages(w.job.ID, e)
	if err == nil {
		err = w.commit(&record{job: w.job.ID, entry: e, msgs: msgs})
	}
	if err != nil {
		w.handBack(err)
		return
	}
	w.p.metrics.jobs.WithLabelValues("sent", "ok").Inc()
	w.p.metrics.latency.Observe(time.Since(w.meta.Timestamp).Seconds())
	w.ack()
}

// replay acknowledges a job that already has an outcome and reports it
// again with the same event id (the events stream drops the copy).
func (w *work) replay(prev *entry) {
	msgs, err := w.outcomeMessages(w.job.ID, *prev)
	if err == nil {
		err = w.commit(&record{msgs: msgs[:1]})
	}
	if err != nil {
		w.handBack(err)
		return
	}
	w.p.metrics.replays.Inc()
	w.ack()
}

// fail records a failure for good: failed event (when the job has an id),
// ledger row and dead letter, then terminates the job.
func (w *work) fail(je *job.Error) {
	if je.Code == "" {
		je.Code = event.CodeSendFailed
	}
	letter := w.deadLetter(je)
	r := &record{msgs: []outbox.Message{letter}}
	if je.JobID != "" {
		e := entry{status: "failed", code: je.Code, lastError: je.Error(), recipient: je.To,
			attempts: max(w.attempt, 1), eventID: event.StableID(w.l.tenant, bus.KindFailed, je.JobID)}
		msgs, err := w.outcomeMessages(je.JobID, e)
		if err != nil {
			w.handBack(err)
			return
		}
		r = &record{job: je.JobID, entry: e, msgs: append(msgs, letter)}
	}
	if err := w.commit(r); err != nil {
		w.handBack(err)
		return
	}
	w.p.metrics.jobs.WithLabelValues("failed", je.Code).Inc()
	w.p.metrics.dlq.Inc()
	if err := w.msg.Term(); err != nil {
		w.l.log.WarnContext(w.l.ctx, "terminate job", slog.String("error", err.Error()))
	}
}

// poisoned fails a job whose handling panicked (a bug of ours, so a retry
// would panic again and block the tenant): send_failed, and the job kept in
// the DLQ. If even that panics the job is handed back.
func (w *work) poisoned(r any) (done bool) {
	defer func() {
		if r := recover(); r != nil {
			_ = w.msg.Nak()
			done = false
		}
	}()
	if w.meta == nil {
		_ = w.msg.Nak()
		return false
	}
	je := &job.Error{Code: event.CodeSendFailed, Msg: fmt.Sprintf("internal error: %v", r)}
	if w.job != nil {
		je.JobID, je.To = w.job.ID, w.job.To
	}
	w.back = false
	w.fail(je)
	return !w.back
}

// outcomeMessages builds the event that reports e for jobID.
func (w *work) outcomeMessages(jobID string, e entry) ([]outbox.Message, error) {
	t, kind := w.l.tenant, bus.KindSent
	var data any = event.Sent{JobID: jobID, MessageID: e.messageID, To: e.recipient, ToJID: w.toJID, Timestamp: e.sentAt}
	typ, at := event.TypeSent, e.sentAt
	if e.status == "failed" {
		kind, typ, at = bus.KindFailed, event.TypeFailed, time.Now()
		data = event.Failed{JobID: jobID, To: e.recipient, Code: e.code, Error: e.lastError, Attempts: e.attempts}
	}
	ev, err := event.New(t, typ, e.eventID, jobID, at, data)
	if err != nil {
		return nil, err
	}
	m, err := outbox.Event(w.p.names.Event(t, kind), ev)
	return []outbox.Message{m}, err
}

// deadLetter is the original bytes for the DLQ stream, with the error.
func (w *work) deadLetter(je *job.Error) outbox.Message {
	key := je.JobID
	if key == "" {
		key = "seq:" + strconv.FormatUint(w.meta.Sequence.Stream, 10)
	}
	return outbox.Message{
		ID:      event.StableID(w.l.tenant, "dlq", key),
		Subject: w.p.names.DLQ(w.l.tenant),
		Payload: w.msg.Data(),
		Header:  map[string]string{"Wa-Error-Code": je.Code, "Wa-Error": je.Error(), "Wa-Job-Id": je.JobID},
	}
}

// exhausted is the send_failed error of a job out of attempts.
func (w *work) exhausted(err error) *job.Error {
	if w.job == nil {
		return &job.Error{Code: event.CodeSendFailed, Msg: err.Error()}
	}
	return &job.Error{Code: event.CodeSendFailed, JobID: w.job.ID, To: w.job.To, Msg: fmt.Sprintf("%d attempts failed, last: %v", w.attempt, err)}
}
