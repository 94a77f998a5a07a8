package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/queue"
)

// arrival validates a message taken from the send stream: what needs no
// session is checked here, so a job that can never be sent fails at once.
// It returns false for a message that cannot be attributed to a tenant (a
// subject whose tenant token is not a tenant id): it is only counted, and
// acknowledged with the batch.
func (g *Ingester) arrival(ctx context.Context, m jetstream.Msg) (queue.Arrival, bool) {
	tenant := g.names.SendTenant(m.Subject())
	if !bus.ValidTenant(tenant) {
		g.metrics.invalid.Inc()
		g.log.WarnContext(ctx, "dropped a message on a send subject without a valid tenant id",
			slog.String("subject", m.Subject()), slog.Int("bytes", len(m.Data())))
		return queue.Arrival{}, false
	}
	meta, err := m.Metadata()
	if err != nil {
		g.log.ErrorContext(ctx, "send job without metadata; dropped", slog.String("error", err.Error()))
		return queue.Arrival{}, false
	}
	a := queue.Arrival{Tenant: tenant, Seq: meta.Sequence.Stream, Payload: m.Data(),
		PublishedAt: meta.Timestamp, ExpiresAt: meta.Timestamp.Add(g.cfg.MaxAge)}
	j, err := job.Parse(m.Data())
	if err != nil {
		je := asJobError(err)
		a.JobID, a.To, a.Code, a.Error = je.JobID, je.To, je.Code, je.Error()
		return a, true
	}
	a.JobID, a.To, a.Kind = j.ID, j.To, j.Kind()
	if j.NotAfter != nil && j.NotAfter.Before(a.ExpiresAt) {
		a.ExpiresAt = *j.NotAfter
	}
	now := time.Now()
	switch {
	case j.Expired(now):
		a.Code, a.Error = event.CodeExpired, expiredError(j)
	case now.After(a.ExpiresAt):
		a.Code = event.CodeExpired
		a.Error = fmt.Sprintf("%s: waited longer than WA_SEND_MAX_AGE (%s) since it was published at %s",
			event.CodeExpired, g.cfg.MaxAge, a.PublishedAt.UTC().Format(time.RFC3339))
	}
	return a, true
}

// expiredError is the error of a job whose not_after has passed.
func expiredError(j *job.Job) string {
	return (&job.Error{Code: event.CodeExpired, Msg: "not_after " + j.NotAfter.Format(time.RFC3339) + " has passed"}).Error()
}

func asJobError(err error) *job.Error {
	if je, ok := errors.AsType[*job.Error](err); ok {
		return je
	}
	return &job.Error{Code: event.CodeInvalidJob, Msg: err.Error()}
}
