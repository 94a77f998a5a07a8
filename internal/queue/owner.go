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
// live rows; the writer runs it without sequential scans (see
// outbox.Writer.Query).
// The rows are updated by ctid (a TID scan): a join back on the primary
// key may be planned as a walk over all the tenant's rows.
const claimJobs = `UPDATE wabus_job SET status = 'sending', updated_at = now()
WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM wabus_job
	WHERE tenant = $1 AND status IN ('queued', 'sending')
		AND EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)
		AND NOT EXISTS (SELECT 1 FROM wabus_tenant WHERE id = $1 AND paused)
	ORDER BY seq LIMIT $4
	FOR UPDATE))
RETURNING job_id, seq, payload, recipient, kind, attempts, created_at, expires_at`

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

// finishJobs records the outcomes of jobs the owner claimed, and inserts
// the outbox rows reporting them, in one statement fenced by the lease. It
// is an upsert so that each row is found through the primary key whatever
// plan the statement was prepared with (an UPDATE's generic plan made while
// the table was small scans all of it); the insert itself only happens for
// a row that vanished meanwhile, which is then recorded as what was done.
// An outbox row is written only for a job whose row it recorded.
const finishJobs = `WITH j AS (
	INSERT INTO wabus_job AS j (tenant, job_id, seq, status, recipient, kind, message_id, attempts, code, last_error,
		sent_at, created_at, expires_at, to_jid)
	SELECT $1, d.job_id, d.seq, d.status, d.recipient, d.kind, d.message_id, d.attempts, d.code, d.last_error,
		d.sent_at, d.created_at, d.created_at, d.to_jid
	FROM unnest($4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::text[],
		$12::text[], $13::timestamptz[], $14::timestamptz[], $20::text[])
		AS d(job_id, seq, status, recipient, kind, message_id, attempts, code, last_error, sent_at, created_at, to_jid)
	WHERE EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)
	ON CONFLICT (tenant, job_id) DO UPDATE SET status = excluded.status, message_id = excluded.message_id,
		to_jid = excluded.to_jid,
		attempts = excluded.attempts, code = excluded.code, last_error = excluded.last_error,
		sent_at = excluded.sent_at, payload = NULL, updated_at = now()
		WHERE j.status IN ('queued', 'sending')
	RETURNING j.job_id)
INSERT INTO wabus_outbox (event_id, subject, payload, headers)
SELECT o.event_id, o.subject, o.payload, o.headers
FROM unnest($15::text[], $16::text[], $17::text[], $18::bytea[], $19::bytea[]) AS o(job_id, event_id, subject, payload, headers)
JOIN j ON j.job_id = o.job_id`

// Done is a claimed job and how it ended.
type Done struct {
	Job     *Job
	Outcome Outcome
}

// Finish records how j ended (see FinishAll).
func (s *Store) Finish(ctx context.Context, f Fence, j *Job, o Outcome) error {
	return s.FinishAll(ctx, f, j.Tenant, []Done{{Job: j, Outcome: o}})
}

// FinishAll records how the tenant's jobs ended, each with its sent or
// failed event and, for a failure, its dead letter, in one statement, and
// returns once that is durable. Recording outcomes that are recorded
// already (a retry) writes nothing and returns nil. It returns ErrFenced
// when the lease moved on (nothing was written). It needs the writer.
func (s *Store) FinishAll(ctx context.Context, f Fence, tenant string, done []Done) error {
	n := len(done)
	ids, status, to, kinds, msgIDs, codes, errs := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	toJIDs := make([]string, n)
	seqs, attempts := make([]int64, n), make([]int32, n)
	sentAt, created := make([]*time.Time, n), make([]time.Time, n)
	var msgs []outbox.Message
	var keys []string
	for i, d := range done {
		r, err := s.finished(d)
		if err != nil {
			return err
		}
		ids[i], seqs[i], status[i], to[i], kinds[i] = r.ID, r.Seq, r.Status, r.To, r.Kind
		msgIDs[i], attempts[i], codes[i], errs[i], toJIDs[i] = r.MessageID, int32(r.Attempts), r.Code, r.Error, r.ToJID
		sentAt[i], created[i] = r.SentAt, r.CreatedAt
		m, err := s.reportDone(r, d.Job.Payload)
		if err != nil {
			return err
		}
		for range m {
			keys = append(keys, r.ID)
		}
		msgs = append(msgs, m...)
	}
	cols := outbox.Columns(msgs...)
	rows, err := s.w.Do(ctx, finishJobs, tenant, f.Owner, f.Epoch, ids, seqs, status, to, kinds, msgIDs, attempts, codes,
		errs, sentAt, created, keys, cols[0], cols[1], cols[2], cols[3], toJIDs)
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	if rows == 0 {
		return s.fencedOrDone(ctx, tenant, f)
	}
	return nil
}

// holdsLease reads whether the lease is still (owner, epoch).
const holdsLease = `SELECT count(*) FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3`

// fencedOrDone tells why recording outcomes wrote nothing: the lease moved
// on (ErrFenced), or, while it still holds, an earlier attempt committed
// them and the acknowledgement of that commit was lost (Postgres crashed
// at that moment, say): they are recorded, and nil is returned.
func (s *Store) fencedOrDone(ctx context.Context, tenant string, f Fence) error {
	var n int
	if err := s.pool.QueryRow(ctx, holdsLease, tenant, f.Owner, f.Epoch).Scan(&n); err != nil {
		return fmt.Errorf("record outcomes: check the lease: %w", err)
	}
	if n == 0 {
		return ErrFenced
	}
	return nil
}

// finished is the row of a claimed job as it ended.
func (s *Store) finished(d Done) (*Job, error) {
	r, o := *d.Job, d.Outcome
	r.Attempts, r.MessageID, r.Code, r.Error, r.SentAt, r.ToJID = o.Attempts, o.MessageID, o.Code, o.Error, nil, o.ToJID
	if o.Sent {
		at := o.SentAt.UTC()
		r.Status, r.SentAt, r.Code, r.Error = StatusSent, &at, "", ""
	} else {
		r.Status, r.MessageID, r.ToJID = StatusFailed, "", ""
	}
	return &r, nil
}

// reportDone builds the outbox rows of a finished job: its event, and for
// a failure its dead letter.
func (s *Store) reportDone(r *Job, payload []byte) ([]outbox.Message, error) {
	if r.Status == StatusFailed {
		return failure(s.names, r, payload)
	}
	m, err := report(s.names, r)
	return []outbox.Message{m}, err
}
