package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/retry"
)

// expireJobs fails queued jobs past their deadline. Jobs being sent are
// their owner's; several janitors take disjoint batches.
const expireJobs = `WITH due AS (
	SELECT tenant, job_id, payload FROM wabus_job
	WHERE status = 'queued' AND expires_at <= now()
	ORDER BY expires_at LIMIT $1
	FOR UPDATE SKIP LOCKED)
UPDATE wabus_job j SET status = 'failed', code = 'expired',
	last_error = 'expired: not sent by ' || to_char(j.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
	payload = NULL, updated_at = now()
FROM due WHERE j.tenant = due.tenant AND j.job_id = due.job_id
RETURNING j.tenant, j.job_id, j.seq, j.recipient, j.kind, j.attempts, j.last_error, due.payload`

// Expire fails up to limit queued jobs whose deadline has passed with code
// expired (event and dead letter), whoever owns their tenant, and returns
// how many. It returns the first error.
func (s *Store) Expire(ctx context.Context, limit int) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, expireJobs, pgx.QueryExecModeExec, limit)
		if err != nil {
			return err
		}
		var msgs []outbox.Message
		j := Job{Status: StatusFailed, Code: event.CodeExpired}
		var payload []byte
		_, err = pgx.ForEachRow(rows, []any{&j.Tenant, &j.ID, &j.Seq, &j.To, &j.Kind, &j.Attempts, &j.Error, &payload}, func() error {
			n++
			m, err := failure(s.names, &j, payload)
			msgs = append(msgs, m...)
			return err
		})
		if err != nil {
			return err
		}
		return outbox.Enqueue(ctx, tx, msgs...)
	})
	if err != nil {
		return 0, fmt.Errorf("expire jobs: %w", err)
	}
	if n > 0 {
		s.notify(ctx)
	}
	return n, nil
}

// pruneJobs deletes finished rows older than the retention.
const pruneJobs = `DELETE FROM wabus_job WHERE ctid = ANY(ARRAY(
	SELECT ctid FROM wabus_job
	WHERE status IN ('sent', 'failed') AND updated_at < now() - $1::interval
	ORDER BY updated_at LIMIT $2
	FOR UPDATE SKIP LOCKED))`

// Prune deletes up to limit finished jobs whose outcome is older than
// retention and returns how many. It returns the statement's error.
func (s *Store) Prune(ctx context.Context, retention time.Duration, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, pruneJobs, pgx.QueryExecModeExec, retention, limit)
	if err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// JanitorConfig configures a Janitor.
type JanitorConfig struct {
	// Retention is how long a finished job is kept (the idempotency
	// window). Defaults to 7 days.
	Retention time.Duration
	// Every is how often it looks for work. Defaults to 1s.
	Every time.Duration
	// Batch is how many rows one statement expires or deletes. Defaults
	// to 500.
	Batch int
}

func (c JanitorConfig) withDefaults() JanitorConfig {
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	return c
}

// Janitor expires jobs past their deadline and prunes finished ones older
// than the retention. Every worker runs one; they share the work.
type Janitor struct {
	cfg     JanitorConfig
	store   *Store
	log     *slog.Logger
	expired func(int) // counts expired jobs
}

// NewJanitor returns a janitor over store; expired (may be nil) is told
// how many jobs each sweep expired.
func NewJanitor(cfg JanitorConfig, store *Store, logger *slog.Logger, expired func(int)) *Janitor {
	if expired == nil {
		expired = func(int) {}
	}
	return &Janitor{cfg: cfg.withDefaults(), store: store, log: logger, expired: expired}
}

// Run sweeps until ctx ends. A batch that came back full is followed by
// the next at once, so a backlog is worked off in small transactions.
func (j *Janitor) Run(ctx context.Context) error {
	for {
		busy := j.sweep(ctx)
		if busy {
			continue
		}
		if !retry.Sleep(ctx, j.cfg.Every) {
			return nil
		}
	}
}

func (j *Janitor) sweep(ctx context.Context) (busy bool) {
	n, err := j.store.Expire(ctx, j.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			j.log.WarnContext(ctx, "expiring jobs failed", slog.String("error", err.Error()))
		}
		return false
	}
	j.expired(n)
	m, err := j.store.Prune(ctx, j.cfg.Retention, j.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			j.log.WarnContext(ctx, "pruning jobs failed", slog.String("error", err.Error()))
		}
		return false
	}
	return n == j.cfg.Batch || m == j.cfg.Batch
}
