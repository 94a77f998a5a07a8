package queue

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/tenant"
)

// cancelJobs fails the given queued jobs of a tenant (all its live ones
// when ids is NULL) with code $6, returning what their events and
// dead letters need. Jobs being sent are only taken with live: after the
// tenant is gone nobody can finish them.
const cancelJobs = `WITH old AS (
	SELECT tenant, job_id, payload FROM wabus_job
	WHERE tenant = $1 AND ($2::text[] IS NULL OR job_id = ANY($2))
		AND (status = 'queued' OR ($3 AND status = 'sending'))
	ORDER BY seq LIMIT $5
	FOR UPDATE)
UPDATE wabus_job j SET status = 'failed', code = $6, last_error = $4, payload = NULL, updated_at = now()
FROM old WHERE j.tenant = old.tenant AND j.job_id = old.job_id
RETURNING j.job_id, j.seq, j.recipient, j.kind, j.attempts, old.payload`

const jobStatus = `SELECT status FROM wabus_job WHERE tenant = $1 AND job_id = $2`

// Cancel fails a queued job with code cancelled (its failed event and dead
// letter committed with it). It returns ErrNotFound for an unknown job id
// and ErrNotCancellable for one being sent or done.
func (s *Store) Cancel(ctx context.Context, tenant, id string) error {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		n, err = s.cancel(ctx, tx, tenant, []string{id}, false, event.CodeCancelled, "cancelled through admin", 1)
		if err != nil || n > 0 {
			return err
		}
		var status string
		err = tx.QueryRow(ctx, jobStatus, pgx.QueryExecModeExec, tenant, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		return ErrNotCancellable
	})
	if err != nil {
		return err
	}
	s.notify(ctx)
	return nil
}

// CancelTenant fails every job of tenant that is still waiting, or being
// sent by an owner that can no longer finish it, with code cancelled,
// inside tx (the transaction that deletes the tenant). Call Notify (or
// outbox.Wake) after tx commits. It returns how many it cancelled, or the
// first error.
func (s *Store) CancelTenant(ctx context.Context, tx pgx.Tx, tenant string) (int, error) {
	return s.FailTenant(ctx, tx, tenant, event.CodeCancelled, "the tenant was deleted")
}

// FailTenant fails every job of tenant that is still waiting or being
// sent with code (its failed event and dead letter), inside tx: for a
// tenant that can no longer send them (deleted: cancelled; logged out:
// logged_out). why follows the code in the error text. The caller wakes
// the relays after tx commits. It returns how many it failed, or the
// first error.
func (s *Store) FailTenant(ctx context.Context, tx pgx.Tx, tenant, code, why string) (int, error) {
	total := 0
	for {
		n, err := s.cancel(ctx, tx, tenant, nil, true, code, why, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// Wake tells the relays that a transaction of the caller's, which called
// CancelTenant, has committed.
func (s *Store) Wake(ctx context.Context) { s.notify(ctx) }

func (s *Store) cancel(ctx context.Context, tx pgx.Tx, tenant string, ids []string, live bool, code, why string, limit int) (int, error) {
	errText := code + ": " + why
	rows, err := tx.Query(ctx, cancelJobs, pgx.QueryExecModeExec, tenant, ids, live, errText, limit, code)
	if err != nil {
		return 0, fmt.Errorf("cancel jobs: %w", err)
	}
	var msgs []outbox.Message
	n := 0
	j := Job{Tenant: tenant, Status: StatusFailed, Code: code, Error: errText}
	var payload []byte
	_, err = pgx.ForEachRow(rows, []any{&j.ID, &j.Seq, &j.To, &j.Kind, &j.Attempts, &payload}, func() error {
		n++
		m, err := failure(s.names, &j, payload)
		msgs = append(msgs, m...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cancel jobs: %w", err)
	}
	return n, outbox.Enqueue(ctx, tx, msgs...)
}

// Page is one page of a tenant's jobs, newest first.
type Page struct {
	Jobs []*Job
	// Next is the cursor of the following page, "" on the last one.
	Next string
}

// listJobs reads the newest live and the newest finished rows through
// their two indexes and merges them.
const listJobs = `SELECT * FROM (
	(SELECT job_id, seq, status, recipient, kind, attempts, code, last_error, message_id, created_at, updated_at, sent_at
	FROM wabus_job WHERE tenant = $1 AND status IN ('queued', 'sending') AND ($2 = '' OR status = $2) AND seq < $3
	ORDER BY seq DESC LIMIT $4)
	UNION ALL
	(SELECT job_id, seq, status, recipient, kind, attempts, code, last_error, message_id, created_at, updated_at, sent_at
	FROM wabus_job WHERE tenant = $1 AND status IN ('sent', 'failed') AND ($2 = '' OR status = $2) AND seq < $3
	ORDER BY seq DESC LIMIT $4)) AS j
ORDER BY seq DESC LIMIT $4`

// List returns up to limit of tenant's jobs, newest first, those with
// status only when status is not "", starting after the cursor before ("":
// the newest). It returns ErrBadCursor for a cursor it did not issue.
func (s *Store) List(ctx context.Context, tenant, status string, limit int, before string) (Page, error) {
	from := int64(1<<63 - 1)
	if before != "" {
		b, err := base64.RawURLEncoding.DecodeString(before)
		if err != nil {
			return Page{}, ErrBadCursor
		}
		if from, err = strconv.ParseInt(string(b), 10, 64); err != nil {
			return Page{}, ErrBadCursor
		}
	}
	rows, err := s.pool.Query(ctx, listJobs, pgx.QueryExecModeExec, tenant, status, from, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("list jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Job, error) {
		j := &Job{Tenant: tenant}
		err := r.Scan(&j.ID, &j.Seq, &j.Status, &j.To, &j.Kind, &j.Attempts, &j.Code, &j.Error, &j.MessageID,
			&j.CreatedAt, &j.UpdatedAt, &j.SentAt)
		return j, err
	})
	if err != nil {
		return Page{}, fmt.Errorf("list jobs: %w", err)
	}
	var p Page
	if len(jobs) > limit {
		jobs = jobs[:limit]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(jobs[limit-1].Seq, 10)))
	}
	p.Jobs = jobs
	return p, nil
}

const pendingJobs = `SELECT tenant, count(*) FROM wabus_job
WHERE status IN ('queued', 'sending') AND ($1 = '' OR tenant = $1) GROUP BY tenant`

// Pending returns how many jobs each tenant has waiting or being sent (of
// one tenant when tenant is not ""); a tenant with none is absent.
func (s *Store) Pending(ctx context.Context, tenant string) (map[string]uint64, error) {
	rows, err := s.pool.Query(ctx, pendingJobs, pgx.QueryExecModeExec, tenant)
	if err != nil {
		return nil, fmt.Errorf("count pending jobs: %w", err)
	}
	out := map[string]uint64{}
	var t string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&t, &n}, func() error {
		out[t] = uint64(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count pending jobs: %w", err)
	}
	return out, nil
}

const getJob = `SELECT job_id, seq, status, recipient, kind, attempts, code, last_error, message_id, created_at,
	updated_at, sent_at
FROM wabus_job WHERE tenant = $1 AND job_id = $2`

// Get returns one job. It returns ErrNotFound for an unknown job id.
func (s *Store) Get(ctx context.Context, tenant, id string) (*Job, error) {
	j := &Job{Tenant: tenant}
	err := s.pool.QueryRow(ctx, getJob, pgx.QueryExecModeExec, tenant, id).Scan(&j.ID, &j.Seq, &j.Status, &j.To,
		&j.Kind, &j.Attempts, &j.Code, &j.Error, &j.MessageID, &j.CreatedAt, &j.UpdatedAt, &j.SentAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read job: %w", err)
	}
	return j, nil
}

// waiting names the tenants, among those given, with jobs to send and not
// paused (one probe of the index of live rows each).
var waiting = `SELECT t.tenant FROM unnest($1::text[]) AS t(tenant)
WHERE EXISTS (SELECT 1 FROM wabus_job j WHERE j.tenant = t.tenant AND j.status IN ('queued', 'sending'))
	AND NOT ` + tenant.Paused("t.tenant")

// Waiting returns the tenants among tenants that have jobs to send and are
// not paused. It returns the database's error.
func (s *Store) Waiting(ctx context.Context, tenants []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, waiting, pgx.QueryExecModeExec, tenants)
	if err != nil {
		return nil, fmt.Errorf("look up waiting jobs: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up waiting jobs: %w", err)
	}
	return out, nil
}
