package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const adoptLeases = `UPDATE wabus_lease SET epoch = nextval('wabus_lease_epoch'), expires_at = now() + $2::interval
WHERE owner = $1 RETURNING tenant, epoch`

// adopt takes back, under new epochs, the leases a previous run of this
// worker id left behind, so a restarted worker resumes its tenants at once
// instead of waiting for them to expire.
func (k *Keeper) adopt(ctx context.Context) {
	rows, err := k.pool.Query(ctx, adoptLeases, k.cfg.WorkerID, k.cfg.TTL)
	if err != nil {
		k.log.WarnContext(ctx, "adopt leases failed", slog.String("error", err.Error()))
		return
	}
	leases, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Lease])
	if err != nil {
		k.log.WarnContext(ctx, "adopt leases failed", slog.String("error", err.Error()))
		return
	}
	for _, l := range leases {
		k.grant(l)
	}
}

// shareQuery counts live workers and the tenants to spread over them: the
// paired ones and any held by a live lease (a pairing in progress).
func shareQuery(paired string) string {
	return `SELECT
	(SELECT count(*) FROM wabus_worker WHERE expires_at > now()),
	(SELECT count(*) FROM (SELECT id FROM ` + paired + ` p
		UNION SELECT tenant FROM wabus_lease WHERE expires_at > now()) t)`
}

// rebalance acquires orphans up to this worker's fair share and releases
// what it holds beyond it.
func (k *Keeper) rebalance(ctx context.Context) error {
	var workers, tenants int
	if err := k.pool.QueryRow(ctx, k.shareSQL).Scan(&workers, &tenants); err != nil {
		return fmt.Errorf("read share: %w", err)
	}
	target := int(math.Ceil(float64(tenants) / float64(max(workers, 1))))
	held := k.Count()
	k.log.DebugContext(ctx, "rebalance", slog.Int("workers", workers), slog.Int("tenants", tenants),
		slog.Int("target", target), slog.Int("held", held))
	switch {
	case held < target:
		return k.acquireOrphans(ctx, target-held)
	case held > target:
		k.releaseExcess(ctx, held-target)
	}
	return nil
}

// acquireOrphans takes leases of paired tenants nobody holds (or whose
// lease expired). Workers taking orphans at once take different ones
// (their tenant rows are locked, skipping locked ones), never the same
// rows in different orders (a deadlock).
func acquireOrphans(paired string) string {
	return `WITH orphan AS (
	SELECT t.id FROM ` + paired + ` t
	WHERE NOT EXISTS (SELECT 1 FROM wabus_lease l WHERE l.tenant = t.id AND l.expires_at >= now())
	ORDER BY md5(t.id || $1) LIMIT $3
	FOR UPDATE OF t SKIP LOCKED)
INSERT INTO wabus_lease AS l (tenant, owner, expires_at)
SELECT id, $1, now() + $2::interval FROM orphan
ON CONFLICT (tenant) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
	epoch = nextval('wabus_lease_epoch')
	WHERE l.expires_at < now()
RETURNING l.tenant, l.epoch`
}

func (k *Keeper) acquireOrphans(ctx context.Context, n int) error {
	rows, err := k.pool.Query(ctx, k.orphansSQL, k.cfg.WorkerID, k.cfg.TTL, n)
	if err != nil {
		return fmt.Errorf("acquire orphans: %w", err)
	}
	leases, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Lease])
	if err != nil {
		return fmt.Errorf("acquire orphans: %w", err)
	}
	for _, l := range leases {
		k.log.InfoContext(ctx, "lease acquired", slog.String("tenant", l.Tenant), slog.Int64("epoch", l.Epoch))
		k.grant(l)
	}
	return nil
}

// releaseLimit bounds what one tick gives up, and releaseParallel how many
// sessions it stops at once: the tick also renews the leases this worker
// keeps, so it must end well within their TTL however many it gives up.
// The rest goes on the next ticks.
const (
	releaseLimit    = 1000
	releaseParallel = 32
)

func (k *Keeper) releaseExcess(ctx context.Context, n int) {
	var give []string
	for _, t := range k.tenants() {
		if len(give) == min(n, releaseLimit) {
			break
		}
		if k.owner.Movable(t) {
			give = append(give, t)
		}
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, releaseParallel)
	for _, t := range give {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := k.Release(ctx, t); err != nil {
				k.log.WarnContext(ctx, "lease release failed", slog.String("tenant", t), slog.String("error", err.Error()))
			}
		})
	}
	wg.Wait()
}

// acquireOne takes tenant $3's lease unless a live one exists; the lease's
// reference to the tenant refuses an unknown tenant.
const acquireOne = `INSERT INTO wabus_lease AS l (tenant, owner, expires_at)
VALUES ($3, $1, now() + $2::interval)
ON CONFLICT (tenant) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
	epoch = nextval('wabus_lease_epoch')
	WHERE l.expires_at < now()
RETURNING l.epoch`

const leaseOwner = `SELECT owner, expires_at > now() FROM wabus_lease WHERE tenant = $1`

// Acquire takes tenant's lease on demand (a control request for a tenant
// nobody owns, such as pairing), whatever the fair share, and starts its
// session. It returns the lease this worker already holds, a *HeldError when
// another live worker holds it, or ErrUnknownTenant.
func (k *Keeper) Acquire(ctx context.Context, tenant string) (Lease, error) {
	if l, ok := k.Held(tenant); ok {
		return l, nil
	}
	var epoch int64
	err := k.pool.QueryRow(ctx, acquireOne, k.cfg.WorkerID, k.cfg.TTL, tenant).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return Lease{}, k.heldBy(ctx, tenant)
	}
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation {
		return Lease{}, ErrUnknownTenant
	}
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lease: %w", err)
	}
	l := Lease{Tenant: tenant, Epoch: epoch}
	k.log.InfoContext(ctx, "lease acquired on demand", slog.String("tenant", tenant), slog.Int64("epoch", epoch))
	k.grant(l)
	return l, nil
}

// foreignKeyViolation is Postgres's SQLSTATE for a reference to a row that
// does not exist.
const foreignKeyViolation = "23503"

// heldBy explains why Acquire found no row to take.
func (k *Keeper) heldBy(ctx context.Context, tenant string) error {
	var owner string
	var live bool
	err := k.pool.QueryRow(ctx, leaseOwner, tenant).Scan(&owner, &live)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrUnknownTenant
	}
	if err != nil {
		return fmt.Errorf("read lease owner: %w", err)
	}
	return &HeldError{Owner: owner}
}

// Owner returns the worker holding tenant's lease and whether that lease
// is live; live is false when tenant has no lease. It returns an error when
// the lease cannot be read.
func (k *Keeper) Owner(ctx context.Context, tenant string) (owner string, live bool, err error) {
	err = k.pool.QueryRow(ctx, leaseOwner, tenant).Scan(&owner, &live)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read lease owner: %w", err)
	}
	return owner, live, nil
}

const deleteLease = `DELETE FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3`

// Release stops tenant's session and gives up its lease so that another
// worker can take it at once. It is a no-op for a tenant not held here.
func (k *Keeper) Release(ctx context.Context, tenant string) error {
	k.mu.Lock()
	epoch, ok := k.held[tenant]
	k.mu.Unlock()
	if !ok {
		return nil
	}
	k.owner.Stop(tenant) // still held: the session may record its last state
	k.mu.Lock()
	if k.held[tenant] == epoch {
		delete(k.held, tenant)
	}
	k.mu.Unlock()
	if _, err := k.pool.Exec(ctx, deleteLease, tenant, k.cfg.WorkerID, epoch); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	k.metrics.released.Inc()
	return nil
}

// Forget drops lease l without stopping its session: for a session that
// ended by itself (logged out, pairing over). It deletes the lease row. A
// newer lease of the same tenant (granted while the old session ended) is
// kept.
func (k *Keeper) Forget(ctx context.Context, l Lease) error {
	k.mu.Lock()
	epoch, ok := k.held[l.Tenant]
	ok = ok && epoch == l.Epoch
	if ok {
		delete(k.held, l.Tenant)
	}
	k.mu.Unlock()
	if !ok {
		return nil
	}
	if _, err := k.pool.Exec(ctx, deleteLease, l.Tenant, k.cfg.WorkerID, epoch); err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	k.metrics.released.Inc()
	return nil
}

const deleteWorker = `DELETE FROM wabus_worker WHERE id = $1`

// shutdown stops every session and releases its lease, all at once, then
// removes the worker row.
func (k *Keeper) shutdown(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range k.tenants() {
		wg.Go(func() {
			if err := k.Release(ctx, t); err != nil {
				k.log.WarnContext(ctx, "lease release failed", slog.String("tenant", t), slog.String("error", err.Error()))
			}
		})
	}
	wg.Wait()
	if _, err := k.pool.Exec(ctx, deleteWorker, k.cfg.WorkerID); err != nil {
		k.log.WarnContext(ctx, "worker row not removed", slog.String("error", err.Error()))
	}
}
