package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/wabus/wabus/internal/lease"
)

// The partition leases. Epochs come from the tenant leases' sequence, so a
// fence can never be confused by a lease that was deleted and taken again.
const (
	renewParts = `UPDATE wabus_ingest_lease l SET expires_at = now() + $2::interval
FROM unnest($3::int[], $4::bigint[]) AS h(part, epoch)
WHERE l.part = h.part AND l.epoch = h.epoch AND l.owner = $1
RETURNING l.part`

	acquireParts = `WITH free AS (
	SELECT p FROM generate_series(0, $3 - 1) AS p
	WHERE NOT EXISTS (SELECT 1 FROM wabus_ingest_lease l WHERE l.part = p AND l.expires_at >= now())
	ORDER BY md5(p::text || $1) LIMIT $4)
INSERT INTO wabus_ingest_lease AS l (part, owner, expires_at)
SELECT p, $1, now() + $2::interval FROM free
ON CONFLICT (part) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
	epoch = nextval('wabus_lease_epoch')
	WHERE l.expires_at < now()
RETURNING l.part, l.epoch`

	releasePart = `DELETE FROM wabus_ingest_lease WHERE part = $1 AND owner = $2 AND epoch = $3`

	// fencePart finds the lease row only while this reader's epoch holds.
	// It takes no lock (a FOR SHARE would queue every commit behind the
	// next renewal): a commit that raced a takeover writes jobs the new
	// reader reads again anyway, since it starts at the oldest job not
	// acknowledged, and inserting a job twice is a no-op.
	fencePart = `SELECT 1 FROM wabus_ingest_lease WHERE part = $1 AND owner = $2 AND epoch = $3`
)

// renew extends the leases in held and returns the ones still held.
func (g *Ingester) renew(ctx context.Context, held map[int]int64) (map[int]int64, error) {
	parts, epochs := make([]int32, 0, len(held)), make([]int64, 0, len(held))
	for p, e := range held {
		parts, epochs = append(parts, int32(p)), append(epochs, e)
	}
	rows, err := g.pool.Query(ctx, renewParts, g.cfg.WorkerID, g.cfg.LeaseTTL, parts, epochs)
	if err != nil {
		return nil, fmt.Errorf("renew ingest leases: %w", err)
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("renew ingest leases: %w", err)
	}
	out := make(map[int]int64, len(renewed))
	for _, p := range renewed {
		out[int(p)] = held[int(p)]
	}
	return out, nil
}

// share returns this worker's fair share of the partitions.
func (g *Ingester) share(ctx context.Context) (int, error) {
	workers, err := lease.LiveWorkers(ctx, g.pool)
	if err != nil {
		return 0, err
	}
	return int(math.Ceil(float64(g.cfg.Partitions) / float64(max(workers, 1)))), nil
}

// acquire takes up to n partitions nobody holds (or whose lease expired)
// and returns them with their epochs.
func (g *Ingester) acquire(ctx context.Context, n int) (map[int]int64, error) {
	rows, err := g.pool.Query(ctx, acquireParts, g.cfg.WorkerID, g.cfg.LeaseTTL, g.cfg.Partitions, n)
	if err != nil {
		return nil, fmt.Errorf("acquire ingest leases: %w", err)
	}
	out := map[int]int64{}
	var p int32
	var e int64
	_, err = pgx.ForEachRow(rows, []any{&p, &e}, func() error {
		out[int(p)] = e
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acquire ingest leases: %w", err)
	}
	return out, nil
}

// release gives up a partition (at shutdown, or beyond the fair share),
// so another worker takes it at once instead of after the lease time.
func (g *Ingester) release(ctx context.Context, part int, epoch int64) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := g.pool.Exec(ctx, releasePart, part, g.cfg.WorkerID, epoch); err != nil {
		g.log.WarnContext(ctx, "ingest lease not released", slog.Int("partition", part), slog.String("error", err.Error()))
	}
}
