package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Lease is a tenant held by this worker under Epoch.
type Lease struct {
	Tenant string
	Epoch  int64
}

// Owner is what runs the sessions of the tenants a Keeper holds.
type Owner interface {
	// Start begins running tenant's session under l. It must not block.
	Start(l Lease)
	// Stop ends tenant's session and returns once it is disconnected.
	Stop(tenant string)
	// Movable reports whether tenant may be handed to another worker to
	// even out the shares (a pairing in progress may not).
	Movable(tenant string) bool
}

// Config configures a Keeper.
type Config struct {
	// WorkerID names this worker; it must be unique among live workers.
	WorkerID string
	// TTL is how long a lease lives without renewal. Defaults to 15s.
	TTL time.Duration
	// Interval is how often leases are renewed and rebalanced. Defaults to TTL/5.
	Interval time.Duration
	// Paired is a sub-select of the ids of the tenants whose sessions must
	// run (tenant.PairedIDs): the keeper spreads them, and any tenant
	// with a live lease, over the live workers. Required.
	Paired string
}

func (c Config) withDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 15 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = c.TTL / 5
	}
	return c
}

// Keeper holds this worker's leases. Build it with New.
type Keeper struct {
	cfg     Config
	pool    *pgxpool.Pool
	owner   Owner
	log     *slog.Logger
	metrics *metrics

	// the rebalancing statements, on Config.Paired
	shareSQL, orphansSQL string

	mu      sync.Mutex
	held    map[string]int64 // tenant → epoch
	validTo time.Time        // monotonic: leases surely valid until then
}

// New returns a Keeper for cfg, registering its metrics on reg. It returns
// an error when cfg has no WorkerID or the metrics cannot be registered.
func New(cfg Config, pool *pgxpool.Pool, owner Owner, logger *slog.Logger, reg prometheus.Registerer) (*Keeper, error) {
	if cfg.WorkerID == "" || cfg.Paired == "" {
		return nil, errors.New("lease: config has no worker id or no paired tenants")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Keeper{
		cfg: cfg.withDefaults(), pool: pool, owner: owner, metrics: m,
		shareSQL: shareQuery(cfg.Paired), orphansSQL: acquireOrphans(cfg.Paired),
		log:  logger.With(slog.String("component", "lease")),
		held: map[string]int64{},
	}, nil
}

// TTL returns the lease time to live.
func (k *Keeper) TTL() time.Duration { return k.cfg.TTL }

// Held returns the lease of tenant if this worker holds it.
func (k *Keeper) Held(tenant string) (Lease, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.held[tenant]
	return Lease{Tenant: tenant, Epoch: e}, ok
}

// Valid reports whether this worker may still act for tenant: it holds the
// lease and the last renewal is recent enough that no one else can have
// taken it. A worker frozen past its TTL sees false here before it acts.
func (k *Keeper) Valid(l Lease) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.held[l.Tenant] == l.Epoch && time.Now().Before(k.validTo)
}

// Count returns how many leases this worker holds.
func (k *Keeper) Count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held)
}

// Run heartbeats, renews and rebalances every Interval until ctx ends, then
// stops every session, releases the leases and removes the worker row.
func (k *Keeper) Run(ctx context.Context) error {
	k.adopt(ctx)
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	for {
		k.tick(ctx)
		select {
		case <-ctx.Done():
			k.shutdown(context.WithoutCancel(ctx))
			return nil
		case <-t.C:
		}
	}
}

func (k *Keeper) tick(ctx context.Context) {
	start := time.Now()
	if err := k.heartbeat(ctx); err != nil {
		k.renewFailed(ctx, err)
		return
	}
	if err := k.renew(ctx, start); err != nil {
		k.renewFailed(ctx, err)
		return
	}
	if err := k.rebalance(ctx); err != nil && ctx.Err() == nil {
		k.log.WarnContext(ctx, "lease rebalance failed", slog.String("error", err.Error()))
	}
}

// renewFailed drops every session once the leases may have expired.
func (k *Keeper) renewFailed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	k.metrics.renewErrors.Inc()
	k.log.WarnContext(ctx, "lease renewal failed", slog.String("error", err.Error()))
	k.mu.Lock()
	expired := time.Now().After(k.validTo)
	k.mu.Unlock()
	if expired {
		for _, t := range k.tenants() {
			k.lose(t, "renewal failed")
		}
	}
}

// upsertWorker records this worker as live. Its ctl_subject is no longer
// read (package control derives an owner's subject from its id); it is
// written empty until a migration drops the column.
const upsertWorker = `INSERT INTO wabus_worker (id, ctl_subject, seen_at, expires_at)
VALUES ($1, '', now(), now() + $2::interval)
ON CONFLICT (id) DO UPDATE SET seen_at = now(), expires_at = excluded.expires_at`

func (k *Keeper) heartbeat(ctx context.Context) error {
	_, err := k.pool.Exec(ctx, upsertWorker, k.cfg.WorkerID, k.cfg.TTL)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

const renewLeases = `UPDATE wabus_lease l SET expires_at = now() + $2::interval
FROM unnest($3::text[], $4::bigint[]) AS h(tenant, epoch)
WHERE l.tenant = h.tenant AND l.epoch = h.epoch AND l.owner = $1
RETURNING l.tenant`

// renew extends every held lease; the ones that come back missing were
// taken by a newer epoch (or deleted with their tenant) and are lost.
func (k *Keeper) renew(ctx context.Context, start time.Time) error {
	tenants, epochs := k.snapshot()
	rows, err := k.pool.Query(ctx, renewLeases, k.cfg.WorkerID, k.cfg.TTL, tenants, epochs)
	if err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	renewed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("renew leases: %w", err)
	}
	k.mu.Lock()
	k.validTo = start.Add(k.cfg.TTL * 4 / 5)
	k.mu.Unlock()
	ok := make(map[string]bool, len(renewed))
	for _, t := range renewed {
		ok[t] = true
	}
	for _, t := range tenants {
		if !ok[t] {
			k.lose(t, "lease taken over")
		}
	}
	return nil
}

func (k *Keeper) snapshot() ([]string, []int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	tenants := make([]string, 0, len(k.held))
	epochs := make([]int64, 0, len(k.held))
	for t, e := range k.held {
		tenants = append(tenants, t)
		epochs = append(epochs, e)
	}
	return tenants, epochs
}

func (k *Keeper) tenants() []string {
	t, _ := k.snapshot()
	return t
}

// lose forgets tenant and stops its session.
func (k *Keeper) lose(tenant, reason string) {
	k.mu.Lock()
	_, had := k.held[tenant]
	delete(k.held, tenant)
	k.mu.Unlock()
	if !had {
		return
	}
	k.metrics.lost.Inc()
	k.log.Warn("lease lost", slog.String("tenant", tenant), slog.String("reason", reason))
	k.owner.Stop(tenant)
}

// grant records a new lease and starts its session.
func (k *Keeper) grant(l Lease) {
	k.mu.Lock()
	k.held[l.Tenant] = l.Epoch
	if k.validTo.IsZero() || time.Now().After(k.validTo) {
		k.validTo = time.Now().Add(k.cfg.TTL * 4 / 5)
	}
	k.mu.Unlock()
	k.metrics.acquired.Inc()
	k.owner.Start(l)
}

// Querier is what lease's reads run on: a pool or a pgx.Tx.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const liveWorkers = `SELECT count(*) FROM wabus_worker WHERE expires_at > now()`

// LiveWorkers counts the workers whose registration has not lapsed. It
// returns the database's error.
func LiveWorkers(ctx context.Context, db Querier) (int, error) {
	var n int
	if err := db.QueryRow(ctx, liveWorkers).Scan(&n); err != nil {
		return 0, fmt.Errorf("count live workers: %w", err)
	}
	return n, nil
}

const holds = `SELECT EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = $1 AND owner = $2 AND epoch = $3)`

// Holds reports whether worker still holds tenant's lease under epoch (the
// fence of its writes holds). It returns the database's error.
func Holds(ctx context.Context, db Querier, tenant, worker string, epoch int64) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, holds, tenant, worker, epoch).Scan(&ok); err != nil {
		return false, fmt.Errorf("read lease: %w", err)
	}
	return ok, nil
}

// Live renders the condition that the tenant whose id is the SQL
// expression tenant has a lease that has not expired (some worker owns
// it), for statements of others.
func Live(tenant string) string {
	return "EXISTS (SELECT 1 FROM wabus_lease l WHERE l.tenant = " + tenant + " AND l.expires_at >= now())"
}

// Fence renders the condition under which a statement may write for a
// tenant: this worker still holds the tenant's lease under the epoch it
// was granted. tenant, owner and epoch are the numbers of the statement's
// parameters that carry the tenant id, the worker id and Lease.Epoch. A
// statement that writes only where the fence holds writes nothing once a
// newer owner took the tenant over.
func Fence(tenant, owner, epoch int) string {
	return FenceOn(fmt.Sprintf("$%d", tenant), fmt.Sprintf("$%d", owner), fmt.Sprintf("$%d", epoch))
}

// FenceOn is Fence for a statement that writes for several tenants at
// once: tenant, owner and epoch are SQL expressions (columns of the row
// being written, say) instead of parameter numbers.
func FenceOn(tenant, owner, epoch string) string {
	return fmt.Sprintf("EXISTS (SELECT 1 FROM wabus_lease WHERE tenant = %s AND owner = %s AND epoch = %s)", tenant, owner, epoch)
}
