package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/vocab"
)

// sendRequest is the body of POST /api/send/{id}.
type sendRequest struct {
	To      string `json:"to"`
	Message string `json:"message"`
}

// documentRequest is the body of POST /api/send-document/{id}.
type documentRequest struct {
	To string `json:"to"`
	// DocumentData is a data URL or plain base64.
	DocumentData string `json:"documentData"`
	Filename     string `json:"filename"`
	// Message is the caption.
	Message string `json:"message"`
}

// apiSend answers POST /api/send/{id}: a text message, sent synchronously.
func (s *Server) apiSend(w http.ResponseWriter, r *http.Request, tenant string) error {
	var body sendRequest
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	return s.sendSync(w, r, tenant, &job.Job{ID: job.NewID(), To: body.To, Text: body.Message})
}

// apiSendDocument answers POST /api/send-document/{id}: a document with an
// optional caption, sent synchronously.
func (s *Server) apiSendDocument(w http.ResponseWriter, r *http.Request, tenant string) error {
	var body documentRequest
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	return s.sendSync(w, r, tenant, &job.Job{
		ID: job.NewID(), To: body.To, Text: body.Message,
		Document: &job.Media{Data: body.DocumentData, Filename: body.Filename},
	})
}

// legacySent is the answer of the old send routes.
type legacySent struct {
	Success   bool   `json:"success"`
	MessageID string `json:"messageId,omitempty"`
	Queued    bool   `json:"queued,omitempty"`
	JobID     string `json:"job_id"`
}

// sendSync publishes j for tenant (created when unknown) and waits up to
// SyncWait for its outcome, like the old synchronous API: 200 with the
// WhatsApp message id, an error with the failure code, or 202 queued when
// the outcome is not there in time (the job stays queued).
func (s *Server) sendSync(w http.ResponseWriter, r *http.Request, tenant string, j *job.Job) error {
	ctx := r.Context()
	if _, err := s.createTenant(ctx, tenant); err != nil {
		return err
	}
	watch, err := s.watchOutcome(tenant, j.ID)
	if err != nil {
		return err
	}
	defer watch.stop()
	if err := s.publishJob(ctx, tenant, j); err != nil {
		return err
	}
	o, ok := watch.wait(ctx, s.cfg.SyncWait)
	switch {
	case !ok:
		writeJSON(w, http.StatusAccepted, legacySent{Success: true, Queued: true, JobID: j.ID})
	case o.sent:
		writeJSON(w, http.StatusOK, legacySent{Success: true, MessageID: o.messageID, JobID: j.ID})
	default:
		writeJSON(w, failedStatus(o.code), legacyErrorBody{Error: o.err, Code: o.code, JobID: j.ID})
	}
	return nil
}

// failedStatus is the HTTP status of a job that failed with code: 400 for
// what is wrong with the job or its recipient, 502 for the rest (expired,
// logged_out, send_failed).
func failedStatus(code string) int {
	switch code {
	case event.CodeInvalidJob, event.CodeInvalidRecipient, event.CodeNotOnWhatsApp,
		event.CodeMediaInvalid, event.CodeMediaTooLarge:
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

// outcome is a job's sent or failed event.
type outcome struct {
	sent      bool
	messageID string
	code, err string
}

// outcomeWatch waits for one job's outcome on the tenant's sent and failed
// subjects (core NATS: the events stream's subjects).
type outcomeWatch struct {
	subs []*nats.Subscription
	ch   chan outcome
}

// watchOutcome subscribes before the job is published, so the outcome
// cannot be missed.
func (s *Server) watchOutcome(tenant, jobID string) (*outcomeWatch, error) {
	ow := &outcomeWatch{ch: make(chan outcome, 1)}
	deliver := func(m *nats.Msg) {
		if o, ok := parseOutcome(m.Data, jobID); ok {
			select {
			case ow.ch <- o:
			default: // a redelivered copy
			}
		}
	}
	for _, kind := range []vocab.EventKind{vocab.EventSent, vocab.EventFailed} {
		sub, err := s.nc.Subscribe(s.names.Event(tenant, kind), deliver)
		if err != nil {
			ow.stop()
			return nil, errorf(http.StatusServiceUnavailable, CodeUnavailable, "subscribe to outcomes: %v", err)
		}
		ow.subs = append(ow.subs, sub)
	}
	return ow, nil
}

func (ow *outcomeWatch) stop() {
	for _, sub := range ow.subs {
		_ = sub.Unsubscribe()
	}
}

// wait returns the outcome, or ok false when d passed or ctx ended first.
func (ow *outcomeWatch) wait(ctx context.Context, d time.Duration) (outcome, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case o := <-ow.ch:
		return o, true
	case <-timer.C:
	case <-ctx.Done():
	}
	return outcome{}, false
}

// parseOutcome reads a sent or failed event; ok is false for another job's.
func parseOutcome(data []byte, jobID string) (outcome, bool) {
	var ev event.Event
	if json.Unmarshal(data, &ev) != nil || ev.Subject != jobID {
		return outcome{}, false
	}
	switch ev.Type {
	case vocab.EventSent.Type:
		var d event.Sent
		if json.Unmarshal(ev.Data, &d) != nil {
			return outcome{}, false
		}
		return outcome{sent: true, messageID: d.MessageID}, true
	case vocab.EventFailed.Type:
		var d event.Failed
		if json.Unmarshal(ev.Data, &d) != nil {
			return outcome{}, false
		}
		return outcome{code: d.Code, err: d.Error}, true
	}
	return outcome{}, false
}
