package queue

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/outbox"
)

// claimJobs marks the tenant's next live jobs sending and returns them,
// while the lease holds and the tenant is not paused. Rows already sending
// (left by an owner that is gone) are taken again first: they come first
// in stream order. The inner scan runs on wabus_job_next, which holds only
// live rows; the writer plans it on every run (see outbox.Writer.Query).
const claimJobs = `WITH next AS (
	SELECT tenant, job_id FROM wabus_job
	WHERE tenant = $1 AND status IN ('queued', 'sending')
		AND EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)
		AND NOT EXISTS (SELECT 1 FROM wabus_tenant WHERE id = $1 AND paused)
	ORDER BY seq LIMIT $4
	FOR UPDATE)
UPDATE wabus_job j SET status = 'sending', updated_at = now()
FROM next WHERE j.tenant = next.tenant AND j.job_id = next.job_id
RETURNING j.job_id, j.seq, j.payload, j.recipient, j.kind, j.attempts, j.created_at, j.expires_at`

// Claim marks up to n of the tenant's next jobs sending and returns them in
// stream order. It returns none when the tenant has no live job, is
// paused, or the lease is no longer (owner, epoch). It needs the writer.
func (s *Store) Claim(ctx context.Context, tenant string, f Fence, n int) ([]*Job, error) {
	var jobs []*Job
	scan := func(rows pgx.Rows) error {
		jobs = jobs[:0]
		for rows.Next() {
			j := &Job{Tenant: tenant, Status: StatusSending}
			if err := rows.Scan(&j.ID, &j.Seq, &j.Payload, &j.To, &j.Kind, &j.Attempts, &j.CreatedAt, &j.ExpiresAt); err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return rows.Err()
	}
	if err := s.w.Query(ctx, scan, claimJobs, tenant, f.Owner, f.Epoch, n); err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(jobs, func(a, b *Job) int { return int(a.Seq - b.Seq) })
	return jobs, nil
}

// requeueJobs hands claimed jobs that were not tried back to the queue.
const requeueJobs = `UPDATE wabus_job SET status = 'queued', updated_at = now()
WHERE tenant = $1 AND job_id = ANY($4) AND status = 'sending'
	AND EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)`

// Requeue puts claimed jobs that were never tried back to queued (the
// session went away before their turn), so they can be cancelled while
// they wait. It returns ErrFenced when the lease moved on: the next owner
// then takes them as they are. It is rare, so it commits by itself,
// planned on every run.
func (s *Store) Requeue(ctx context.Context, tenant string, f Fence, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	tag, err := s.pool.Exec(ctx, requeueJobs, pgx.QueryExecModeExec, tenant, f.Owner, f.Epoch, ids)
	if err != nil {
		return fmt.Errorf("requeue jobs: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrFenced
	}
	return nil
}

// finishJob records the outcome of a job the owner claimed, and inserts
// the outbox rows reporting it, in one statement fenced by the lease. It is
// an upsert so that the row is found through the primary key whatever plan
// the statement was prepared with (an UPDATE's generic plan made while the
// table was small scans all of it); the insert itself only happens for a
// row that vanished meanwhile, which is then recorded as what was done.
const finishJob = `WITH j AS (
	INSERT INTO wabus_job AS j (tenant, job_id, seq, status, recipient, kind, message_id, attempts, code, last_error,
		sent_at, created_at, expires_at)
	SELECT $1, $4, $15, $5, $16, $17, $6, $7, $8, $9, $10, $18, $18
	WHERE EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)
	ON CONFLICT (tenant, job_id) DO UPDATE SET status = excluded.status, message_id = excluded.message_id,
		attempts = excluded.attempts, code = excluded.code, last_error = excluded.last_error,
		sent_at = excluded.sent_at, payload = NULL, updated_at = now()
		WHERE j.status IN ('queued', 'sending')
	RETURNING 1)
INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.* FROM unnest($11::text[], $12::text[], $13::bytea[], $14::bytea[]) AS o, j`

// Finish records how j ended, with its sent or failed event and, for a
// failure, its dead letter, and returns once that is durable. It returns
// ErrFenced when the lease moved on (nothing was written). It needs the
// writer.
func (s *Store) Finish(ctx context.Context, f Fence, j *Job, o Outcome) error {
	done := *j
	done.Attempts, done.MessageID, done.Code, done.Error = o.Attempts, o.MessageID, o.Code, o.Error
	var sentAt *time.Time
	var msgs []outbox.Message
	var err error
	if o.Sent {
		at := o.SentAt.UTC()
		sentAt = &at
		done.Status, done.SentAt, done.Code, done.Error = StatusSent, sentAt, "", ""
		var m outbox.Message
		m, err = report(s.names, &done)
		msgs = []outbox.Message{m}
	} else {
		done.Status, done.MessageID = StatusFailed, ""
		msgs, err = failure(s.names, &done, j.Payload)
	}
	if err != nil {
		return err
	}
	cols := outbox.Columns(msgs...)
	n, err := s.w.Do(ctx, finishJob, j.Tenant, f.Owner, f.Epoch, j.ID, done.Status, done.MessageID, done.Attempts,
		done.Code, done.Error, sentAt, cols[0], cols[1], cols[2], cols[3], j.Seq, j.To, j.Kind, j.CreatedAt)
	if err != nil {
		return fmt.Errorf("record outcome: %w", err)
	}
	if n == 0 {
		return ErrFenced
	}
	return nil
}
