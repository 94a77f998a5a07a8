package send

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lookups reads ledger entries for many tenant loops at once: concurrent
// requests are answered by one query, so a thousand loops do not queue for
// the pool's few connections.
type lookups struct {
	pool *pgxpool.Pool
	in   chan *lookupReq
}

type lookupReq struct {
	tenant, job string
	done        chan lookupRes
}

type lookupRes struct {
	e   *entry
	err error
}

func newLookups(pool *pgxpool.Pool) *lookups {
	return &lookups{pool: pool, in: make(chan *lookupReq, 1024)}
}

// get returns the ledger entry of a job, or nil when it has none. It
// returns ctx's error when ctx ends first.
func (l *lookups) get(ctx context.Context, tenant, job string) (*entry, error) {
	r := &lookupReq{tenant: tenant, job: job, done: make(chan lookupRes, 1)}
	select {
	case l.in <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.e, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run answers requests with n concurrent queries until ctx ends.
func (l *lookups) run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				var first *lookupReq
				select {
				case first = <-l.in:
				case <-ctx.Done():
					return
				}
				l.answer(ctx, drain(first, l.in, 512))
			}
		})
	}
	wg.Wait()
}

// drain returns first and whatever else is queued, up to max.
func drain[T any](first T, in <-chan T, max int) []T {
	batch := []T{first}
	for len(batch) < max {
		select {
		case x := <-in:
			batch = append(batch, x)
		default:
			return batch
		}
	}
	return batch
}

// lookupJobs reads the ledger rows of a batch of jobs, one primary key
// lookup each (the LIMIT keeps the subquery from being flattened into a
// join). It is planned on every run (QueryExecModeExec): a prepared
// statement's generic plan made while the ledger was still empty scans the
// whole table on every batch once it has grown (measured: 220 ms against
// 0.05 ms a batch at 100,000 rows).
const lookupJobs = `SELECT k.tenant, k.job_id, w.status, w.message_id, w.event_id, w.recipient, w.code, w.last_error,
	w.attempts, w.at
FROM unnest($1::text[], $2::text[]) AS k(tenant, job_id)
CROSS JOIN LATERAL (
	SELECT status, message_id, event_id, recipient, code, last_error, attempts, coalesce(sent_at, updated_at) AS at
	FROM wabus_send s WHERE s.tenant = k.tenant AND s.job_id = k.job_id LIMIT 1) w`

func (l *lookups) answer(ctx context.Context, batch []*lookupReq) {
	found, err := l.query(ctx, batch)
	for _, r := range batch {
		r.done <- lookupRes{e: found[r.tenant+"\x00"+r.job], err: err}
	}
}

func (l *lookups) query(ctx context.Context, batch []*lookupReq) (map[string]*entry, error) {
	tenants := make([]string, len(batch))
	jobs := make([]string, len(batch))
	for i, r := range batch {
		tenants[i], jobs[i] = r.tenant, r.job
	}
	rows, err := l.pool.Query(ctx, lookupJobs, pgx.QueryExecModeExec, tenants, jobs)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	found := map[string]*entry{}
	var tenant, job string
	var e entry
	_, err = pgx.ForEachRow(rows, []any{&tenant, &job, &e.status, &e.messageID, &e.eventID, &e.recipient, &e.code,
		&e.lastError, &e.attempts, &e.sentAt}, func() error {
		found[tenant+"\x00"+job] = &entry{status: e.status, messageID: e.messageID, eventID: e.eventID, recipient: e.recipient,
			code: e.code, lastError: e.lastError, attempts: e.attempts, sentAt: e.sentAt}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return found, nil
}
