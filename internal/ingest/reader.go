package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/retry"
)

// reader copies one partition into the job table while its lease holds.
type reader struct {
	g      *Ingester
	part   int
	epoch  int64
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// minHeartbeat is the shortest pull heartbeat nats.go takes.
const minHeartbeat = 500 * time.Millisecond

// errFenced: the partition's lease moved on; nothing was committed.
var errFenced = errors.New("ingest lease lost: batch not committed")

func (g *Ingester) startReader(ctx context.Context, wg *sync.WaitGroup, part int, epoch int64) *reader {
	rctx, cancel := context.WithCancel(ctx)
	r := &reader{g: g, part: part, epoch: epoch, cancel: cancel, done: make(chan struct{}),
		log: g.log.With(slog.Int("partition", part))}
	wg.Go(func() {
		defer close(r.done)
		r.run(rctx)
	})
	return r
}

// stop ends the reader and waits for it.
func (r *reader) stop() {
	r.cancel()
	<-r.done
}

func (r *reader) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// run reads the partition until ctx ends or the lease is lost, binding its
// consumer again after a failure.
func (r *reader) run(ctx context.Context) {
	backoff := retry.Backoff{Min: 250 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		err := r.upgrade(ctx)
		if err == nil {
			err = r.consume(ctx, ConsumerName(r.part), r.g.names.SendPartition(r.part), nil)
		}
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errFenced):
			r.log.WarnContext(ctx, "ingest lease lost; reader stops")
			return
		case err != nil:
			pause := backoff.Next()
			r.log.WarnContext(ctx, "ingest reader failed", slog.String("error", err.Error()), slog.Duration("retry_in", pause))
			retry.Sleep(ctx, pause)
		default:
			backoff.Reset()
		}
	}
}

// bind creates or updates a consumer. One found with jobs unacknowledged
// was being read by a reader that is gone (this worker holds the lease, so
// no one else reads it): it is made anew, and since the stream is a work
// queue the new one starts at the oldest job not acknowledged, so the
// partition is read on in stream order at once instead of after the ack
// wait.
func (r *reader) bind(ctx context.Context, durable, filter string) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream := r.g.names.SendStream()
	cfg := jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "wabus ingest: copies send jobs into the job table",
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.g.cfg.AckWait,
		MaxAckPending: 4 * r.g.cfg.Batch,
		MaxDeliver:    -1,
	}
	cons, err := r.g.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", durable, err)
	}
	if info := cons.CachedInfo(); info != nil && info.NumAckPending > 0 {
		r.log.InfoContext(ctx, "ingest consumer had jobs in flight of a reader that is gone; making it anew",
			slog.Int("pending", info.NumAckPending))
		if err := r.g.js.DeleteConsumer(ctx, stream, durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("remake %s: %w", durable, err)
		}
		if cons, err = r.g.js.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
			return nil, fmt.Errorf("remake %s: %w", durable, err)
		}
	}
	return cons, nil
}

// consume reads the consumer in batches until ctx ends or something needs
// a new binding (it returns nil then) or fails. With done set it also
// returns nil once done reports true (checked when the consumer is idle).
func (r *reader) consume(ctx context.Context, durable, filter string, done func(context.Context) bool) error {
	cons, err := r.bind(ctx, durable, filter)
	if err != nil {
		return err
	}
	idle := r.g.cfg.Idle
	if done != nil {
		idle = min(idle, 500*time.Millisecond)
	}
	// The server heartbeats a pull request it holds with nothing to send.
	// One lost on the way or with the consumer's leader (a cluster node
	// that died or stepped down) gets no reply and no status: only the
	// missing heartbeats tell, and the iterator watches for them only
	// while Next waits (two beats), so a wait lasts three. Next then fails
	// with ErrNoHeartbeat and the reader binds again.
	beat := max(idle/4, minHeartbeat)
	idle = max(idle, 3*beat)
	it, err := cons.Messages(jetstream.PullMaxMessages(2*r.g.cfg.Batch), jetstream.PullHeartbeat(beat))
	if err != nil {
		return fmt.Errorf("read %s: %w", durable, err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	conn := r.g.js.Conn()
	reconnects := conn.Stats().Reconnects
	for {
		batch, err := r.collect(it, idle)
		if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", durable, err)
		}
		// After a reconnect, jobs the server sent while the connection was
		// going down are pending with nobody to see them: bind again, which
		// makes the consumer anew at the oldest of them.
		if conn.Stats().Reconnects != reconnects {
			r.log.InfoContext(ctx, "reconnected to NATS: binding the ingest consumer again")
			return nil
		}
		if len(batch) == 0 {
			if done != nil && done(ctx) {
				return nil
			}
			continue
		}
		if err := r.ingest(ctx, batch); err != nil {
			return err
		}
	}
}

// collect waits up to idle for a job, then takes whatever else has been
// fetched already, up to a batch. It returns an empty batch when none came.
func (r *reader) collect(it jetstream.MessagesContext, idle time.Duration) ([]jetstream.Msg, error) {
	first, err := it.Next(jetstream.NextMaxWait(idle))
	if errors.Is(err, nats.ErrTimeout) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	batch := []jetstream.Msg{first}
	size := len(first.Data())
	for len(batch) < r.g.cfg.Batch && size < r.g.cfg.BatchBytes {
		m, err := it.Next(jetstream.NextMaxWait(time.Millisecond))
		if err != nil {
			break // the next call reports a closed iterator again
		}
		batch = append(batch, m)
		size += len(m.Data())
	}
	return batch, nil
}

// ingest commits a batch, then acknowledges it and rings the owners.
func (r *reader) ingest(ctx context.Context, batch []jetstream.Msg) error {
	arrivals := make([]queue.Arrival, 0, len(batch))
	for _, m := range batch {
		if a, ok := r.g.arrival(ctx, m); ok {
			arrivals = append(arrivals, a)
		}
	}
	if h := r.g.testHookCommit; h != nil {
		h(r.part)
	}
	start := time.Now()
	res, err := r.commit(ctx, arrivals)
	if err != nil {
		return err
	}
	for _, code := range res.Failed {
		r.g.cfg.Hooks.failed(code)
	}
	for range res.Replayed {
		r.g.cfg.Hooks.replayed()
	}
	r.g.metrics.batch.Observe(time.Since(start).Seconds())
	r.g.metrics.jobs.Add(float64(len(arrivals)))
	for _, m := range batch {
		if err := m.Ack(); err != nil {
			// committed: a redelivery is a duplicate the table ignores
			r.log.DebugContext(ctx, "ack ingested job", slog.String("error", err.Error()))
		}
	}
	r.g.ring(res.Queued)
	return nil
}

// commit inserts the arrivals in one transaction of the shared writer,
// fenced by the partition lease. It retries while Postgres is unavailable and
// returns errFenced when the lease is gone, or ctx's error.
func (r *reader) commit(ctx context.Context, arrivals []queue.Arrival) (queue.Inserted, error) {
	if len(arrivals) == 0 {
		return queue.Inserted{}, nil
	}
	var res queue.Inserted
	fn := func(ctx context.Context, tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, fencePart, r.part, r.g.cfg.WorkerID, r.epoch).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return errFenced
		}
		if err != nil {
			return fmt.Errorf("check ingest lease: %w", err)
		}
		res, err = queue.Insert(ctx, tx, r.g.names, arrivals)
		return err
	}
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for attempt := 1; ; attempt++ {
		err := r.g.w.Tx(ctx, fn)
		if err == nil || errors.Is(err, errFenced) || ctx.Err() != nil {
			return res, err
		}
		if attempt == 5 {
			return queue.Inserted{}, err
		}
		r.log.WarnContext(ctx, "ingest commit failed; retrying", slog.String("error", err.Error()))
		if !retry.Sleep(ctx, backoff.Next()) {
			return queue.Inserted{}, ctx.Err()
		}
	}
}

// ring tells the owners of tenants that got jobs (core NATS, after the
// commit; a lost bell is made up for by the owners' periodic check).
func (g *Ingester) ring(tenants []string) {
	if len(tenants) == 0 {
		return
	}
	body, _ := json.Marshal(bus.BellMessage{Tenants: tenants})
	if err := g.js.Conn().Publish(g.names.Bell(), body); err != nil {
		g.log.Debug("ring owners", slog.String("error", err.Error()))
	}
}
