package ingest

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/queue"
)

// Config configures an Ingester.
type Config struct {
	// WorkerID names this worker (the partition lease owner). Required.
	WorkerID string
	// Partitions is how many partitions the send stream has. Defaults to
	// bus.SendPartitions, which is what the stream's transform makes.
	Partitions int
	// LeaseTTL is how long a partition lease lives without renewal, so how
	// long a dead worker's partitions wait at most. Defaults to 15s
	// (WA_LEASE_TTL).
	LeaseTTL time.Duration
	// MaxAge is WA_SEND_MAX_AGE: a job still queued this long after its
	// publish fails with code expired. Defaults to 24h.
	MaxAge time.Duration
	// Batch is the most jobs one commit takes. Defaults to 500.
	Batch int
	// BatchBytes is the most payload bytes one commit takes (the first job
	// always fits). Defaults to 4 MiB.
	BatchBytes int
	// AckWait is how long a fetched job may stay unacknowledged before
	// JetStream hands it out again. Defaults to 30s.
	AckWait time.Duration
	// Idle is how long a reader waits for a job before it checks that its
	// connection is sound. Defaults to 5s.
	Idle time.Duration
	// Hooks are told what ingest settled by itself. Defaults to none.
	Hooks Hooks
}

// Hooks count what ingest settled without an owner.
type Hooks struct {
	// Failed is called with the code of each job that failed at once.
	Failed func(code string)
	// Replayed is called for each job id that had an outcome already
	// (reported again, not sent).
	Replayed func()
}

func (h Hooks) failed(code string) {
	if h.Failed != nil {
		h.Failed(code)
	}
}

func (h Hooks) replayed() {
	if h.Replayed != nil {
		h.Replayed()
	}
}

func (c Config) withDefaults() Config {
	c.Partitions = cmp.Or(c.Partitions, bus.SendPartitions)
	c.LeaseTTL = cmp.Or(c.LeaseTTL, 15*time.Second)
	c.MaxAge = cmp.Or(c.MaxAge, 24*time.Hour)
	c.Batch = cmp.Or(c.Batch, 500)
	c.BatchBytes = cmp.Or(c.BatchBytes, 4<<20)
	c.AckWait = cmp.Or(c.AckWait, 30*time.Second)
	c.Idle = cmp.Or(c.Idle, 5*time.Second)
	return c
}

func (c Config) validate() error {
	switch {
	case c.WorkerID == "":
		return errors.New("ingest: config has no worker id")
	case c.Partitions < 1, c.Batch < 1, c.LeaseTTL < 0, c.MaxAge < 0:
		return errors.New("ingest: partitions and batch must be positive, durations not negative")
	}
	return nil
}

// Ingester runs the readers of the partitions this worker holds. Build it
// with New.
type Ingester struct {
	cfg     Config
	pool    *pgxpool.Pool
	w       queue.Writer
	js      jetstream.JetStream
	names   bus.Names
	log     *slog.Logger
	metrics *metrics

	// drained is set once no job stored before the transform is left.
	drained atomic.Bool

	// testHookCommit, when set, runs before a batch is committed (tests
	// only).
	testHookCommit func(part int)
}

// New returns an ingester that commits through w (the worker's
// group-commit writer), registering its metrics on reg. It returns an
// error for an invalid cfg or when the metrics cannot be registered.
func New(cfg Config, pool *pgxpool.Pool, w queue.Writer, js jetstream.JetStream, names bus.Names, logger *slog.Logger, reg prometheus.Registerer) (*Ingester, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Ingester{cfg: cfg, pool: pool, w: w, js: js, names: names, metrics: m,
		log: logger.With(slog.String("component", "ingest"))}, nil
}

// ConsumerName is the durable consumer of a partition of the send stream.
func ConsumerName(part int) string { return "ingest-" + strconv.Itoa(part) }

// legacyConsumer reads the jobs stored before the stream had its transform.
const legacyConsumer = "ingest-v1"

// Run holds this worker's share of the partitions and reads them until ctx
// ends; then it stops the readers (a batch in flight is committed and
// acknowledged, or left to the next reader) and releases the leases. It
// returns nil.
func (g *Ingester) Run(ctx context.Context) error {
	g.removeV1Consumers(ctx)
	readers := map[int]*reader{}
	var wg sync.WaitGroup
	interval := g.cfg.LeaseTTL / 5
	t := time.NewTicker(interval)
	defer t.Stop()
	validTo := time.Now()
	for {
		validTo = g.tick(ctx, readers, &wg, validTo)
		select {
		case <-ctx.Done():
			bg := context.WithoutCancel(ctx)
			for p, r := range readers {
				r.stop()
				g.release(bg, p, r.epoch)
			}
			wg.Wait()
			g.metrics.held.Set(0)
			return nil
		case <-t.C:
		}
	}
}

// tick renews the leases, stops the readers of partitions lost, evens out
// the shares and starts readers for partitions acquired. validTo is until
// when the leases are surely valid on the local clock; past it, every
// reader stops.
func (g *Ingester) tick(ctx context.Context, readers map[int]*reader, wg *sync.WaitGroup, validTo time.Time) time.Time {
	start := time.Now()
	held := map[int]int64{}
	for p, r := range readers {
		if r.exited() { // fenced: its lease is gone
			delete(readers, p)
			continue
		}
		held[p] = r.epoch
	}
	defer func() { g.metrics.held.Set(float64(len(readers))) }()
	renewed, err := g.renew(ctx, held)
	if err != nil {
		if ctx.Err() == nil {
			g.log.WarnContext(ctx, "ingest lease renewal failed", slog.String("error", err.Error()))
		}
		if time.Now().After(validTo) {
			for p, r := range readers {
				r.stop()
				delete(readers, p)
			}
		}
		return validTo
	}
	validTo = start.Add(g.cfg.LeaseTTL * 4 / 5)
	for p, r := range readers {
		if _, ok := renewed[p]; !ok {
			g.log.WarnContext(ctx, "ingest lease lost", slog.Int("partition", p))
			r.stop()
			delete(readers, p)
		}
	}
	share, err := g.share(ctx)
	if err != nil {
		g.log.WarnContext(ctx, "ingest rebalance failed", slog.String("error", err.Error()))
		return validTo
	}
	for p, r := range readers {
		if len(readers) <= share {
			break
		}
		r.stop()
		delete(readers, p)
		g.release(ctx, p, r.epoch)
		g.log.InfoContext(ctx, "ingest partition given up to even out the shares", slog.Int("partition", p))
	}
	if len(readers) >= share {
		return validTo
	}
	got, err := g.acquire(ctx, share-len(readers))
	if err != nil {
		g.log.WarnContext(ctx, "ingest rebalance failed", slog.String("error", err.Error()))
		return validTo
	}
	for p, e := range got {
		g.log.InfoContext(ctx, "ingest partition acquired", slog.Int("partition", p), slog.Int64("epoch", e))
		readers[p] = g.startReader(ctx, wg, p, e)
	}
	return validTo
}
