package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/outbox"
)

// Arrival is one message taken from the send stream.
type Arrival struct {
	Tenant string
	// JobID is "" for a message without a usable job id (it only gets a
	// dead letter).
	JobID   string
	Seq     uint64
	Payload []byte
	To      string
	Kind    string
	// PublishedAt is the stream's timestamp; ExpiresAt when a job still
	// queued then fails with code expired.
	PublishedAt time.Time
	ExpiresAt   time.Time
	// Code is set for a job that fails at once (invalid_job, expired...),
	// with Error the text of its failed event and dead letter.
	Code, Error string
}

// insertJobs queues new jobs (and records jobs that failed at once) in
// stream order; a job id the table has already is left as it is.
const insertJobs = `INSERT INTO wabus_job AS j (tenant, job_id, seq, status, payload, recipient, kind, attempts, code,
	last_error, created_at, expires_at)
SELECT a.tenant, a.job_id, a.seq, CASE WHEN a.code = '' THEN 'queued' ELSE 'failed' END,
	CASE WHEN a.code = '' THEN a.payload END, a.recipient, a.kind, CASE WHEN a.code = '' THEN 0 ELSE 1 END,
	a.code, a.last_error, a.created_at, a.expires_at
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::timestamptz[], $10::timestamptz[])
	AS a(tenant, job_id, seq, payload, recipient, kind, code, last_error, created_at, expires_at)
ON CONFLICT (tenant, job_id) DO NOTHING
RETURNING j.tenant, j.job_id`

// finishedJobs reads the outcome of jobs that were already in the table.
const finishedJobs = `SELECT j.tenant, j.job_id, j.status, j.recipient, j.attempts, j.code, j.last_error, j.message_id, j.sent_at,
	j.to_jid
FROM unnest($1::text[], $2::text[]) AS k(tenant, job_id)
JOIN wabus_job j ON j.tenant = k.tenant AND j.job_id = k.job_id
WHERE j.status IN ('sent', 'failed')`

// Insert copies arrivals into the table inside tx (the caller's, fenced by
// its ingest lease) and writes to the outbox, in the same transaction, what
// they report: a failed event and a dead letter for each job that failed
// at once, a dead letter for a message without a job id, and for a job id
// that already has an outcome that outcome's event again (same event id).
// It returns an error when a statement fails.
func Insert(ctx context.Context, tx pgx.Tx, names bus.Names, arrivals []Arrival) (Inserted, error) {
	var res Inserted
	for _, a := range arrivals {
		if a.Code != "" {
			res.Failed = append(res.Failed, a.Code)
		}
	}
	fresh, letters := split(names, arrivals)
	if len(fresh) == 0 {
		return res, outbox.Enqueue(ctx, tx, letters...)
	}
	inserted, err := insertRows(ctx, tx, fresh)
	if err != nil {
		return Inserted{}, err
	}
	var again []Arrival
	seen := map[string]bool{}
	for _, a := range fresh {
		if !inserted[key(a.Tenant, a.JobID)] {
			again = append(again, a)
			if a.Code != "" {
				letters = append(letters, DeadLetter(names, a.Tenant, "", a.Seq, a.Payload, a.Code, a.Error))
			}
			continue
		}
		if a.Code != "" {
			msgs, err := failure(names, a.failed(), a.Payload)
			if err != nil {
				return Inserted{}, err
			}
			letters = append(letters, msgs...)
		} else if !seen[a.Tenant] {
			seen[a.Tenant] = true
			res.Queued = append(res.Queued, a.Tenant)
		}
	}
	replays, err := replay(ctx, tx, names, again)
	if err != nil {
		return Inserted{}, err
	}
	res.Replayed = len(replays)
	return res, outbox.Enqueue(ctx, tx, append(letters, replays...)...)
}

// Inserted is what Insert did.
type Inserted struct {
	// Queued names the tenants that got newly queued jobs, once each.
	Queued []string
	// Failed holds the code of each arrival that failed at once.
	Failed []string
	// Replayed counts job ids that had an outcome already, reported again.
	Replayed int
}

func key(tenant, job string) string { return tenant + "\x00" + job }

// split returns the arrivals that have a job id, the first of each id
// only, and the dead letters of those without one.
func split(names bus.Names, arrivals []Arrival) (fresh []Arrival, letters []outbox.Message) {
	seen := map[string]bool{}
	for _, a := range arrivals {
		switch {
		case a.JobID == "":
			letters = append(letters, DeadLetter(names, a.Tenant, "", a.Seq, a.Payload, a.Code, a.Error))
		case seen[key(a.Tenant, a.JobID)]:
			if a.Code != "" {
				letters = append(letters, DeadLetter(names, a.Tenant, "", a.Seq, a.Payload, a.Code, a.Error))
			}
		default:
			seen[key(a.Tenant, a.JobID)] = true
			fresh = append(fresh, a)
		}
	}
	return fresh, letters
}

func (a Arrival) failed() *Job {
	return &Job{Tenant: a.Tenant, ID: a.JobID, Seq: int64(a.Seq), Status: StatusFailed, To: a.To, Kind: a.Kind,
		Attempts: 1, Code: a.Code, Error: a.Error}
}

func insertRows(ctx context.Context, tx pgx.Tx, fresh []Arrival) (map[string]bool, error) {
	n := len(fresh)
	tenants, ids, to, kinds, codes, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	seqs := make([]int64, n)
	payloads := make([][]byte, n)
	created, expires := make([]time.Time, n), make([]time.Time, n)
	for i, a := range fresh {
		tenants[i], ids[i], seqs[i], payloads[i] = a.Tenant, a.JobID, int64(a.Seq), a.Payload
		to[i], kinds[i], codes[i], errs[i] = a.To, a.Kind, a.Code, a.Error
		created[i], expires[i] = a.PublishedAt, a.ExpiresAt
	}
	rows, err := tx.Query(ctx, insertJobs, tenants, ids, seqs, payloads, to, kinds, codes, errs, created, expires)
	if err != nil {
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	inserted := map[string]bool{}
	var tenant, id string
	_, err = pgx.ForEachRow(rows, []any{&tenant, &id}, func() error {
		inserted[key(tenant, id)] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert jobs: %w", err)
	}
	return inserted, nil
}

// replay returns the events of the arrivals whose job id has an outcome
// already: a redelivered job reports it again instead of being sent.
func replay(ctx context.Context, tx pgx.Tx, names bus.Names, again []Arrival) ([]outbox.Message, error) {
	if len(again) == 0 {
		return nil, nil
	}
	tenants, ids := make([]string, len(again)), make([]string, len(again))
	for i, a := range again {
		tenants[i], ids[i] = a.Tenant, a.JobID
	}
	rows, err := tx.Query(ctx, finishedJobs, pgx.QueryExecModeExec, tenants, ids)
	if err != nil {
		return nil, fmt.Errorf("read outcomes: %w", err)
	}
	var out []outbox.Message
	var j Job
	_, err = pgx.ForEachRow(rows, []any{&j.Tenant, &j.ID, &j.Status, &j.To, &j.Attempts, &j.Code, &j.Error, &j.MessageID, &j.SentAt, &j.ToJID},
		func() error {
			m, err := report(names, &j)
			out = append(out, m)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("read outcomes: %w", err)
	}
	return out, nil
}
