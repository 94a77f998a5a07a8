package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/retry"
)

// RelayConfig tunes a Relay.
type RelayConfig struct {
	// BatchSize is how many rows one transaction claims and publishes.
	// Defaults to 500.
	BatchSize int
	// SweepInterval is how often the relay looks for rows without being
	// notified. Defaults to 1s.
	SweepInterval time.Duration
	// AckTimeout is how long it waits for a batch's PubAcks. Defaults to 5s.
	AckTimeout time.Duration
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Second
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	return c
}

// Relay publishes outbox rows to JetStream. Build it with NewRelay.
type Relay struct {
	cfg     RelayConfig
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *relayMetrics
	wake    chan struct{}
	notify  chan struct{} // asks the notifier to NOTIFY other processes

	// crashAfterAck, when it returns true, makes the relay stop after a
	// batch was acknowledged but before its rows are deleted (tests only).
	crashAfterAck func() bool
}

// NewRelay returns a relay over pool and js, registering its metrics on reg.
// It returns an error when the metrics are already registered there.
func NewRelay(cfg RelayConfig, pool *pgxpool.Pool, js jetstream.JetStream, logger *slog.Logger, reg prometheus.Registerer) (*Relay, error) {
	m, err := newRelayMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Relay{
		cfg:     cfg.withDefaults(),
		pool:    pool,
		js:      js,
		log:     logger.With(slog.String("component", "outbox")),
		metrics: m,
		wake:    make(chan struct{}, 1),
		notify:  make(chan struct{}, 1),
	}, nil
}

// errCrashed is returned by Run when crashAfterAck asked it to stop.
var errCrashed = errors.New("outbox relay stopped after ack (test hook)")

// Run publishes until ctx is cancelled, then returns nil once the batch in
// flight is finished. Failures (NATS or Postgres down) are logged and
// retried with backoff; rows wait in the table meanwhile.
func (r *Relay) Run(ctx context.Context) error {
	bgCtx, stopBG := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { r.listen(bgCtx) })
	bg.Go(func() { r.notifier(bgCtx) })
	defer func() { stopBG(); bg.Wait() }()

	sweep := time.NewTicker(r.cfg.SweepInterval)
	defer sweep.Stop()
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		n, err := r.publishBatch(ctx)
		switch {
		case errors.Is(err, errCrashed):
			return err
		case ctx.Err() != nil:
			return nil
		case err != nil:
			r.metrics.errors.Inc()
			r.log.WarnContext(ctx, "outbox publish failed", slog.String("error", err.Error()))
			r.updateBacklog(ctx)
			if !retry.Sleep(ctx, backoff.Next()) {
				return nil
			}
			continue
		}
		backoff.Reset()
		if n == r.cfg.BatchSize {
			continue // more rows are likely waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-sweep.C:
			r.updateBacklog(ctx)
		}
	}
}

// claimRows is planned on every run (QueryExecModeExec): a prepared
// statement's generic plan made while the outbox was empty sorts the whole
// backlog for every batch once NATS has been away for a while.
const claimRows = `SELECT seq, event_id, subject, payload, headers FROM wabus_outbox
ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`

const deleteRows = `DELETE FROM wabus_outbox WHERE seq = ANY($1)`

type row struct {
	seq     int64
	id      string
	subject string
	payload []byte
	headers []byte // JSON object of extra headers, or nil
}

// publishBatch claims up to BatchSize rows, publishes them and deletes the
// acknowledged ones, in one transaction. It returns how many rows it claimed.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	var claimed int
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		rows, err := claim(ctx, tx, r.cfg.BatchSize)
		if err != nil || len(rows) == 0 {
			return err
		}
		claimed = len(rows)
		acked, pubErr := r.publish(ctx, rows)
		if r.crashAfterAck != nil && r.crashAfterAck() {
			return errCrashed
		}
		if len(acked) > 0 {
			if _, err := tx.Exec(ctx, deleteRows, acked); err != nil {
				return fmt.Errorf("delete published rows: %w", err)
			}
		}
		r.metrics.published.Add(float64(len(acked)))
		return pubErr
	})
	return claimed, err
}

func claim(ctx context.Context, tx pgx.Tx, limit int) ([]row, error) {
	rs, err := tx.Query(ctx, claimRows, pgx.QueryExecModeExec, limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	out, err := pgx.CollectRows(rs, func(rr pgx.CollectableRow) (row, error) {
		var x row
		err := rr.Scan(&x.seq, &x.id, &x.subject, &x.payload, &x.headers)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox rows: %w", err)
	}
	return out, nil
}

// publish sends rows asynchronously and waits for their acks. It returns
// the seqs that JetStream acknowledged, and an error when any was not.
func (r *Relay) publish(ctx context.Context, rows []row) ([]int64, error) {
	start := time.Now()
	// When the connection goes, the acks still awaited are not coming:
	// stop waiting, and publish what is not acked again (deduplicated by
	// its id) once NATS is back.
	nc := r.js.Conn()
	lost := nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CLOSED)
	defer nc.RemoveStatusListener(lost)
	futures := make([]jetstream.PubAckFuture, len(rows))
	var firstErr error
	for i, x := range rows {
		msg := &nats.Msg{Subject: x.subject, Data: x.payload, Header: x.header()}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithMsgID(x.id))
		if err != nil {
			firstErr = fmt.Errorf("publish %s: %w", x.subject, err)
			break
		}
		futures[i] = f
	}
	timeout := time.NewTimer(r.cfg.AckTimeout)
	defer timeout.Stop()
	acked := make([]int64, 0, len(rows))
	for i, f := range futures {
		if f == nil {
			break
		}
		select {
		case <-f.Ok():
			acked = append(acked, rows[i].seq)
		case err := <-f.Err():
			firstErr = cmpErr(firstErr, fmt.Errorf("publish %s: %w", rows[i].subject, err))
		case <-timeout.C:
			return acked, cmpErr(firstErr, errors.New("timed out waiting for publish acks"))
		case <-lost:
			return acked, cmpErr(firstErr, errors.New("connection to NATS lost while waiting for publish acks"))
		case <-ctx.Done():
			return acked, ctx.Err()
		}
	}
	r.metrics.batchSeconds.Observe(time.Since(start).Seconds())
	return acked, firstErr
}

func (x row) header() nats.Header {
	h := nats.Header{}
	var extra map[string]string
	if len(x.headers) > 0 && json.Unmarshal(x.headers, &extra) == nil {
		for k, v := range extra {
			h.Set(k, v)
		}
	}
	return h
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

const countBacklog = `SELECT count(*) FROM wabus_outbox`

func (r *Relay) updateBacklog(ctx context.Context) {
	var n int64
	if err := r.pool.QueryRow(ctx, countBacklog).Scan(&n); err == nil {
		r.metrics.backlog.Set(float64(n))
	}
}

// listen keeps a LISTEN connection open and pokes r.wake on each
// notification, reconnecting with backoff when Postgres goes away.
func (r *Relay) listen(ctx context.Context) {
	backoff := retry.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for ctx.Err() == nil {
		err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		r.log.DebugContext(ctx, "outbox listener lost", slog.String("error", err.Error()))
		if !retry.Sleep(ctx, backoff.Next()) {
			return
		}
	}
}

func (r *Relay) listenOnce(ctx context.Context) error {
	pooled, err := r.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that was LISTENing is not given back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN wabus_outbox"); err != nil {
		return err
	}
	r.poke() // rows may have arrived while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		r.poke()
	}
}

// Notify tells the relays that events were committed: this one at once,
// the ones of other processes through a NOTIFY (coalesced, sent outside the
// writer's transaction). Call it after the transaction that enqueued them
// has committed. It never blocks.
func (r *Relay) Notify() {
	r.poke()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

const notifyRelays = "SELECT pg_notify('wabus_outbox', '')"

// notifier sends one NOTIFY per burst of Notify calls, at most every
// 10ms, so that busy writers cost Postgres almost nothing.
func (r *Relay) notifier(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.notify:
		}
		if _, err := r.pool.Exec(ctx, notifyRelays); err != nil && ctx.Err() == nil {
			r.log.DebugContext(ctx, "notify relays", slog.String("error", err.Error()))
		}
		if !retry.Sleep(ctx, 10*time.Millisecond) {
			return
		}
	}
}

func (r *Relay) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
