package queue

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/tenant"
)

// claimJobs marks the next live jobs of several tenants sending and
// returns them: for each request row (tenant, owner, epoch, n), up to n of
// the tenant's jobs while that lease holds and the tenant is not paused.
// Rows already sending (left by an owner that is gone) are taken again
// first: they come first in stream order. The inner scan runs on
// wabus_job_next, which holds only live rows; the writer runs it without
// sequential scans (see outbox.Writer.Query). The rows are updated by ctid
// (a TID scan): a join back on the primary key may be planned as a walk
// over all the tenant's rows.
var claimJobs = `UPDATE wabus_job SET status = 'sending', updated_at = now()
WHERE ctid = ANY(ARRAY(
	SELECT c.ctid FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[]) AS r(tenant, owner, epoch, n)
	CROSS JOIN LATERAL (
		SELECT ctid FROM wabus_job
		WHERE tenant = r.tenant AND status IN ('queued', 'sending')
			AND ` + lease.FenceOn("r.tenant", "r.owner", "r.epoch") + `
			AND NOT ` + tenant.Paused("r.tenant") + `
		ORDER BY seq LIMIT r.n
		FOR UPDATE) c))
RETURNING tenant, job_id, seq, payload, recipient, kind, attempts, created_at, expires_at`

// claimIn is one tenant's claim: up to n jobs under f.
type claimIn struct {
	f Fence
	n int
}

// Claim marks up to n of the tenant's next jobs sending and returns them in
// stream order. It returns none when the tenant has no live job, is
// paused, or the lease is no longer (owner, epoch). Claims that tenants
// make at the same time are one statement. It needs the writer.
func (s *Store) Claim(ctx context.Context, tenant string, f Fence, n int) ([]*Job, error) {
	jobs, err := s.claims.do(tenant, claimIn{f: f, n: n})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	slices.SortFunc(jobs, func(a, b *Job) int { return int(a.Seq - b.Seq) })
	return jobs, nil
}

// claimBatch runs claims of several tenants in one statement.
func (s *Store) claimBatch(batch []*request[claimIn, []*Job]) {
	tenants, owners, epochs, ns := make([]string, len(batch)), make([]string, len(batch)), make([]int64, len(batch)), make([]int32, len(batch))
	byTenant := make(map[string]*request[claimIn, []*Job], len(batch))
	for i, r := range batch {
		tenants[i], owners[i], epochs[i], ns[i] = r.tenant, r.in.f.Owner, r.in.f.Epoch, int32(r.in.n)
		byTenant[r.tenant] = r
	}
	scan := func(rows pgx.Rows) error {
		for _, r := range batch {
			r.out = r.out[:0]
		}
		for rows.Next() {
			j := &Job{Status: StatusSending}
			if err := rows.Scan(&j.Tenant, &j.ID, &j.Seq, &j.Payload, &j.To, &j.Kind, &j.Attempts, &j.CreatedAt, &j.ExpiresAt); err != nil {
				return err
			}
			if r := byTenant[j.Tenant]; r != nil {
				r.out = append(r.out, j)
			}
		}
		return rows.Err()
	}
	err := s.w.Query(context.Background(), scan, claimJobs, tenants, owners, epochs, ns)
	for _, r := range batch {
		if err != nil {
			r.out, r.err = nil, err
		}
	}
}

// requeueJobs hands claimed jobs that were not tried back to the queue.
var requeueJobs = `UPDATE wabus_job SET status = 'queued', updated_at = now()
WHERE tenant = $1 AND job_id = ANY($4) AND status = 'sending'
	AND ` + lease.Fence(1, 2, 3)

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

// finishJobs records the outcomes of jobs the owners claimed, for several
// tenants at once, and inserts the outbox rows reporting them, in one
// statement fenced row by row by each tenant's lease; it returns the
// tenants whose rows it recorded. It is an upsert so that each row is
// found through the primary key whatever plan the statement was prepared
// with (an UPDATE's generic plan made while the table was small scans all
// of it); the insert itself only happens for a row that vanished
// meanwhile, which is then recorded as what was done. An outbox row is
// written only for a job whose row it recorded (its key is
// tenant/job_id: a tenant id has no '/').
var finishJobs = `WITH j AS (
	INSERT INTO wabus_job AS j (tenant, job_id, seq, status, recipient, kind, message_id, attempts, code, last_error,
		sent_at, created_at, expires_at, to_jid)
	SELECT d.tenant, d.job_id, d.seq, d.status, d.recipient, d.kind, d.message_id, d.attempts, d.code, d.last_error,
		d.sent_at, d.created_at, d.created_at, d.to_jid
	FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
		$9::text[], $10::int[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[])
		AS d(tenant, owner, epoch, job_id, seq, status, recipient, kind, message_id, attempts, code, last_error,
			sent_at, created_at, to_jid)
	WHERE ` + lease.FenceOn("d.tenant", "d.owner", "d.epoch") + `
	ON CONFLICT (tenant, job_id) DO UPDATE SET status = excluded.status, message_id = excluded.message_id,
		to_jid = excluded.to_jid,
		attempts = excluded.attempts, code = excluded.code, last_error = excluded.last_error,
		sent_at = excluded.sent_at, payload = NULL, updated_at = now()
		WHERE j.status IN ('queued', 'sending')
	RETURNING j.tenant, j.job_id),
o AS (` + outbox.InsertKeyed(16, "o.key IN (SELECT tenant || '/' || job_id FROM j)") + `)
SELECT DISTINCT tenant FROM j`

// finishIn is one tenant's outcomes, recorded under f.
type finishIn struct {
	f    Fence
	done []Done
}

// finishRows are the arguments of finishJobs, a column each.
type finishRows struct {
	tenants, owners, ids, status, to, kinds, msgIDs, codes, errs, toJIDs []string
	epochs, seqs                                                         []int64
	attempts                                                             []int32
	sentAt                                                               []*time.Time
	created                                                              []time.Time
	keys                                                                 []string
	msgs                                                                 []outbox.Message
}

// add appends a tenant's outcomes and their outbox rows.
func (c *finishRows) add(s *Store, tenant string, f Fence, done []Done) error {
	for _, d := range done {
		r, err := s.finished(d)
		if err != nil {
			return err
		}
		c.tenants, c.owners, c.epochs = append(c.tenants, tenant), append(c.owners, f.Owner), append(c.epochs, f.Epoch)
		c.ids, c.seqs, c.status, c.to = append(c.ids, r.ID), append(c.seqs, r.Seq), append(c.status, r.Status), append(c.to, r.To)
		c.kinds, c.msgIDs, c.attempts = append(c.kinds, r.Kind), append(c.msgIDs, r.MessageID), append(c.attempts, int32(r.Attempts))
		c.codes, c.errs, c.toJIDs = append(c.codes, r.Code), append(c.errs, r.Error), append(c.toJIDs, r.ToJID)
		c.sentAt, c.created = append(c.sentAt, r.SentAt), append(c.created, r.CreatedAt)
		m, err := s.reportDone(r, d.Job.Payload)
		if err != nil {
			return err
		}
		for range m {
			c.keys = append(c.keys, tenant+"/"+r.ID)
		}
		c.msgs = append(c.msgs, m...)
	}
	return nil
}

func (c *finishRows) args() []any {
	cols := outbox.Columns(c.msgs...)
	return []any{c.tenants, c.owners, c.epochs, c.ids, c.seqs, c.status, c.to, c.kinds, c.msgIDs, c.attempts,
		c.codes, c.errs, c.sentAt, c.created, c.toJIDs, c.keys, cols[0], cols[1], cols[2], cols[3]}
}

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
// failed event and, for a failure, its dead letter, and returns once that
// is durable. Outcomes that tenants record at the same time are one
// statement. Recording outcomes that are recorded already (a retry) writes
// nothing and returns nil. It returns ErrFenced when the lease moved on
// (nothing was written). It needs the writer.
func (s *Store) FinishAll(ctx context.Context, f Fence, tenant string, done []Done) error {
	_, err := s.finishes.do(tenant, finishIn{f: f, done: done})
	return err
}

// finishBatch records the outcomes of several tenants in one statement.
// If it fails, each tenant's outcomes are tried alone, so that one cannot
// fail the others.
func (s *Store) finishBatch(batch []*request[finishIn, struct{}]) {
	err := s.finishTogether(batch)
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
		return
	}
	for _, r := range batch {
		if err := s.finishTogether([]*request[finishIn, struct{}]{r}); err != nil {
			r.err = err
		}
	}
}

// finishTogether runs finishJobs for the batch and sets ErrFenced on the
// requests whose tenant had nothing recorded.
func (s *Store) finishTogether(batch []*request[finishIn, struct{}]) error {
	var rows finishRows
	for _, r := range batch {
		r.err = nil
		if err := rows.add(s, r.tenant, r.in.f, r.in.done); err != nil {
			r.err = err // it fails alone when the batch is tried again
			return err
		}
	}
	recorded := make(map[string]bool, len(batch))
	scan := func(res pgx.Rows) error {
		for res.Next() {
			var t string
			if err := res.Scan(&t); err != nil {
				return err
			}
			recorded[t] = true
		}
		return res.Err()
	}
	if err := s.w.Query(context.Background(), scan, finishJobs, rows.args()...); err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range batch {
		if !recorded[r.tenant] {
			r.err = s.fencedOrDone(ctx, r.tenant, r.in.f)
		}
	}
	return nil
}

// fencedOrDone tells why recording outcomes wrote nothing: the lease moved
// on (ErrFenced), or, while it still holds, an earlier attempt committed
// them and the acknowledgement of that commit was lost (Postgres crashed
// at that moment, say): they are recorded, and nil is returned.
func (s *Store) fencedOrDone(ctx context.Context, tenant string, f Fence) error {
	holds, err := lease.Holds(ctx, s.pool, tenant, f.Owner, f.Epoch)
	if err != nil {
		return fmt.Errorf("record outcomes: %w", err)
	}
	if !holds {
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
