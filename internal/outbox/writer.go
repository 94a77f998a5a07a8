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
	// scan, when set, reads the rows the statement returns. It runs again
	// from the start if the batch is retried alone.
	scan func(pgx.Rows) error
	// fn, when set instead of sql, runs in the transaction after the
	// batch's statements (see Tx).
	fn   func(context.Context, pgx.Tx) error
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
	return w.submit(ctx, &write{sql: sql, args: args, done: make(chan result, 1)})
}

// Query runs one statement that returns rows in the next shared
// transaction, passing them to scan, and returns once that transaction
// committed. It runs without sequential scans (enable_seqscan off, set
// after the batch's Do statements): such a statement finds rows to claim
// through an index, and a plan made while the table was nearly empty
// would otherwise scan all of it once it has grown; planning it on every
// run instead costs more than the statement. If the shared
// transaction fails, the statement is retried in one of its own and scan
// runs again, so it must start its result afresh; what it read is only
// valid when Query returns nil. It returns scan's,
// the statement's or the commit's error, ctx's error, or ErrWriterStopped.
func (w *Writer) Query(ctx context.Context, scan func(pgx.Rows) error, sql string, args ...any) error {
	_, err := w.submit(ctx, &write{sql: sql, args: args, scan: scan, done: make(chan result, 1)})
	return err
}

// Tx runs fn inside the next shared transaction, after the statements
// queued with Do and Query, and returns once that transaction committed.
// fn may run more than once (the shared transaction failed and fn is
// retried in one of its own), so it must be idempotent and start its
// results afresh. It returns fn's or the commit's error, ctx's error, or
// ErrWriterStopped.
func (w *Writer) Tx(ctx context.Context, fn func(context.Context, pgx.Tx) error) error {
	_, err := w.submit(ctx, &write{fn: fn, done: make(chan result, 1)})
	return err
}

// Notify tells the relays that outbox rows were committed by a
// transaction of the caller's own (not through the writer).
func (w *Writer) Notify() { w.notify() }

func (w *Writer) submit(ctx context.Context, wr *write) (int64, error) {
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
		if err := pipeline(ctx, tx, batch, rows); err != nil {
			return err
		}
		for _, wr := range batch {
			if wr.fn != nil {
				if err := wr.fn(ctx, tx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("commit batch: %w", err)
	}
	return rows, nil
}

// noScans keeps the statements after it in the transaction (and the
// plans made for them) off sequential scans.
const noScans = `SET LOCAL enable_seqscan = off`

// pipeline sends the batch's statements in one round trip, those of Do
// first, then those of Query after noScans, and reads their results
// into rows.
func pipeline(ctx context.Context, tx pgx.Tx, batch []*write, rows []int64) error {
	b := &pgx.Batch{}
	var order []int
	for _, queries := range []bool{false, true} {
		first := true
		for i, wr := range batch {
			if wr.fn != nil || (wr.scan != nil) != queries {
				continue
			}
			if queries && first {
				b.Queue(noScans)
				order = append(order, -1)
				first = false
			}
			b.Queue(wr.sql, wr.args...)
			order = append(order, i)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	res := tx.SendBatch(ctx, b)
	for _, i := range order {
		if i < 0 {
			if _, err := res.Exec(); err != nil {
				res.Close()
				return err
			}
			continue
		}
		n, err := readResult(res, batch[i])
		if err != nil {
			res.Close()
			return err
		}
		rows[i] = n
	}
	return res.Close()
}

func readResult(res pgx.BatchResults, wr *write) (int64, error) {
	if wr.scan == nil {
		tag, err := res.Exec()
		return tag.RowsAffected(), err
	}
	rs, err := res.Query()
	if err != nil {
		return 0, err
	}
	err = wr.scan(rs)
	rs.Close()
	if err == nil {
		err = rs.Err()
	}
	return rs.CommandTag().RowsAffected(), err
}
