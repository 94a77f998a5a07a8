package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/vocab"
)

// work is one claimed job being sent.
type work struct {
	p   *Pipeline
	l   *loop
	row *queue.Job
	job *job.Job
	// attempt counts this claim's send attempts (transient failures are
	// retried in place, so later jobs wait behind this one).
	attempt int
	// back: the job was handed back (lease lost, session gone, loop
	// stopped); it stays sending, and the next owner sends it again under
	// the same message id.
	back bool
}

// handle takes a claimed job to exactly one of: its outcome recorded
// (true), or handed back for whoever serves the tenant next (false: the
// caller hands back the jobs claimed after it too).
func (p *Pipeline) handle(l *loop, row *queue.Job) (done bool) {
	w := &work{p: p, l: l, row: row}
	defer func() {
		if r := recover(); r != nil {
			p.metrics.panics.Inc()
			l.log.Error("send panic recovered; job goes to the DLQ", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			done = w.poisoned(r)
		}
	}()
	var err error
	w.job, err = job.Parse(row.Payload)
	if err != nil {
		w.fail(jobErr(err))
		return !w.back
	}
	w.send()
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
		if time.Now().After(w.row.ExpiresAt) {
			w.fail(&job.Error{Code: event.CodeExpired, JobID: j.ID, To: j.To, Msg: "waited longer than WA_SEND_MAX_AGE since it was published at " + w.row.CreatedAt.UTC().Format(time.RFC3339)})
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
		Typing: time.Duration(j.TypingSeconds) * time.Second,
	}
	if m := j.Media(); m != nil {
		if jerr := w.media(out, m); jerr != nil {
			return nil, jerr
		}
	}
	if jerr := w.content(out, jid); jerr != nil {
		return nil, jerr
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
	return w.describe(out, m, job.DetectMimetype(data, m.Filename, declared))
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

// sent records the outcome (in the background: see loop.record).
func (w *work) sent(out *wa.OutMessage, res *wa.SendResult) {
	id := out.ID
	if out.Kind == vocab.ContentRead { // marks read; no message of its own
		id = ""
	}
	o := queue.Outcome{Sent: true, MessageID: id, ToJID: res.ToJID, SentAt: res.Timestamp, Attempts: w.attempt}
	w.l.record(w.row, o, func() {
		w.p.metrics.jobs.WithLabelValues(queue.StatusSent, "ok").Inc()
		w.p.metrics.latency.Observe(time.Since(w.row.CreatedAt).Seconds())
	})
}

// fail records a failure for good: the row, its failed event and the dead
// letter with the job's original bytes.
func (w *work) fail(je *job.Error) {
	if je.Code == "" {
		je.Code = event.CodeSendFailed
	}
	o := queue.Outcome{Code: je.Code, Error: je.Error(), Attempts: max(w.attempt, 1)}
	w.l.record(w.row, o, func() {
		w.p.metrics.jobs.WithLabelValues(queue.StatusFailed, je.Code).Inc()
		w.p.metrics.dlq.Inc()
	})
}

// poisoned fails a job whose handling panicked (a bug of ours, so a retry
// would panic again and block the tenant): send_failed, and the job kept in
// the DLQ. If even that panics the job is handed back.
func (w *work) poisoned(r any) (done bool) {
	defer func() {
		if r := recover(); r != nil {
			done = false
		}
	}()
	je := &job.Error{Code: event.CodeSendFailed, JobID: w.row.ID, To: w.row.To, Msg: fmt.Sprintf("internal error: %v", r)}
	w.back = false
	w.fail(je)
	return !w.back
}

// exhausted is the send_failed error of a job out of attempts.
func (w *work) exhausted(err error) *job.Error {
	if w.job == nil {
		return &job.Error{Code: event.CodeSendFailed, Msg: err.Error()}
	}
	return &job.Error{Code: event.CodeSendFailed, JobID: w.job.ID, To: w.job.To, Msg: fmt.Sprintf("%d attempts failed, last: %v", w.attempt, err)}
}
