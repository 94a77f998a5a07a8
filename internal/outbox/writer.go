package outbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Writer commits statements from many goroutines in shared transactions
// (group commit): a caller's statement is durable when Do returns, and a
// busy worker pays for one Postgres commit per batch instead of one per
// event. Build it with NewWriter and run it with Run.
type Writer struct {
	pool    *pgxpool.Pool
	notify  func()
	in      chan *write
	max     int
	stopped chan struct{} // closed when Run has returned
}

type write struct {
	sql  string
	args []any
	done chan result
}

type result struct {
	rows int64
	err  error
}

// ErrWriterStopped is returned by Do once the Writer has stopped.
var ErrWriterStopped = errors.New("outbox writer stopped")

// NewWriter returns a writer over pool; notify (may be nil) is called
// after each commit that may have written outbox rows (a Relay's Notify).
func NewWriter(pool *pgxpool.Pool, notify func()) *Writer {
	if notify == nil {
		notify = func() {}
	}
	return &Writer{pool: pool, notify: notify, in: make(chan *write, 4096), max: 256, stopped: make(chan struct{})}
}

// Do runs one statement in the next shared transaction and returns the
// rows it affected once that transaction committed. It returns the
// statement's or the commit's error, ctx's error, or ErrWriterStopped.
func (w *Writer) Do(ctx context.Context, sql string, args ...any) (int64, error) {
	wr := &write{sql: sql, args: args, done: make(chan result, 1)}
	select {
	case w.in <- wr:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-w.stopped:
		return 0, ErrWriterStopped
	}
	select {
	case r := <-wr.done:
		return r.rows, r.err
	case <-w.stopped:
		// Run answers everything it took; a write queued after its last
		// look is answered here.
		select {
		case r := <-wr.done:
			return r.rows, r.err
		default:
			return 0, ErrWriterStopped
		}
	}
}

// Enqueue writes msgs to the outbox in the next shared transaction and
// returns once it committed.
func (w *Writer) Enqueue(ctx context.Context, msgs ...Message) error {
	_, err := w.Do(ctx, insertRows, columns(msgs)...)
	return err
}

// Run commits with n concurrent transactions until ctx ends, then answers
// what is left with ErrWriterStopped.
func (w *Writer) Run(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range max(n, 1) {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
	close(w.stopped)
	for {
		select {
		case wr := <-w.in:
			wr.done <- result{err: ErrWriterStopped}
		default:
			return
		}
	}
}

func (w *Writer) loop(ctx context.Context) {
	for {
		var first *write
		select {
		case first = <-w.in:
		case <-ctx.Done():
			return
		}
		batch := []*write{first}
	fill:
		for len(batch) < w.max {
			select {
			case wr := <-w.in:
				batch = append(batch, wr)
			default:
				break fill
			}
		}
		w.commit(context.WithoutCancel(ctx), batch)
	}
}

// commit runs a batch in one transaction. If it fails, each statement is
// retried alone, so one bad statement cannot fail the others.
func (w *Writer) commit(ctx context.Context, batch []*write) {
	rows, err := w.tx(ctx, batch)
	if err == nil {
		w.notify()
		for i, wr := range batch {
			wr.done <- result{rows: rows[i]}
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- result{err: err}
		return
	}
	for _, wr := range batch {
		w.commit(ctx, []*write{wr})
	}
}

func (w *Writer) tx(ctx context.Context, batch []*write) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows := make([]int64, len(batch))
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, wr := range batch {
			b.Queue(wr.sql, wr.args...)
		}
		res := tx.SendBatch(ctx, b)
		for i := range batch {
			tag, err := res.Exec()
			if err != nil {
				res.Close()
				return err
			}
			rows[i] = tag.RowsAffected()
		}
		return res.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("commit batch: %w", err)
	}
	return rows, nil
}
