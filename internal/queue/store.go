package queue

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/outbox"
)

// Writer is the worker's shared group-commit writer (an *outbox.Writer):
// the owner's statements commit together with the rest of the worker's.
type Writer interface {
	Do(ctx context.Context, sql string, args ...any) (int64, error)
	Query(ctx context.Context, scan func(pgx.Rows) error, sql string, args ...any) error
	Tx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error
	Notify()
}

// Store reads and writes the job table. Build it with New.
type Store struct {
	pool  *pgxpool.Pool
	w     Writer
	names bus.Names

	claims   combiner[claimIn, []*Job]
	finishes combiner[finishIn, struct{}]
}

// New returns a store over pool. w may be nil for a process that only
// uses the admin side (Cancel, CancelTenant, List, Pending); the owner's
// and the janitor's methods need it.
func New(pool *pgxpool.Pool, w Writer, names bus.Names) *Store {
	s := &Store{pool: pool, w: w, names: names}
	s.claims.run = s.claimBatch
	s.finishes.run = s.finishBatch
	return s
}

// notify wakes the relays after a transaction of the store's own wrote
// outbox rows.
func (s *Store) notify(ctx context.Context) {
	if s.w != nil {
		s.w.Notify()
		return
	}
	_ = outbox.Wake(ctx, s.pool)
}
