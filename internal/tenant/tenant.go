// Package tenant owns the tenant table (wabus_tenant): a tenant's session
// state, its paired device, its send limits and its pause. Admin creates,
// configures and deletes tenants through it; the owning worker's session
// records state and device through it, fenced by its lease, with the
// session event in the same statement.
//
// The owner's statements are rendered (SQL and arguments) rather than run
// here, so the caller runs them where it commits: the worker's group-commit
// writer, or a transaction of its own.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/vocab"
)

// DB is what the admin side runs its statements on: a pool or a pgx.Tx.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const insertTenant = `INSERT INTO wabus_tenant (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`

// Create creates tenant id as unpaired; created is false when it existed
// already. It returns the database's error.
func Create(ctx context.Context, db DB, id string) (created bool, err error) {
	tag, err := db.Exec(ctx, insertTenant, id)
	if err != nil {
		return false, fmt.Errorf("create tenant: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

const insertTenants = `INSERT INTO wabus_tenant (id) SELECT unnest($1::text[]) ON CONFLICT (id) DO NOTHING`

// CreateAll creates the tenants ids that do not exist yet as unpaired, in
// one statement. It returns the database's error.
func CreateAll(ctx context.Context, db DB, ids []string) error {
	if _, err := db.Exec(ctx, insertTenants, ids); err != nil {
		return fmt.Errorf("create tenants: %w", err)
	}
	return nil
}

const setPaired = `INSERT INTO wabus_tenant (id, device_jid, jid, state)
SELECT t.id, t.jid, t.jid, $3 FROM unnest($1::text[], $2::text[]) AS t(id, jid)
ON CONFLICT (id) DO UPDATE SET device_jid = excluded.device_jid, jid = excluded.jid, state = excluded.state`

// SetPaired records the tenants ids as paired with the devices jids (the
// same index in each) and disconnected, creating those that do not exist
// yet, in one statement: for tenants no worker serves, whose devices were
// stored without pairing (the load tool's seeded scale test). It returns
// an error when the lists differ in length, or the database's error.
func SetPaired(ctx context.Context, db DB, ids, jids []string) error {
	if len(ids) != len(jids) {
		return fmt.Errorf("set paired: %d tenants but %d devices", len(ids), len(jids))
	}
	if _, err := db.Exec(ctx, setPaired, ids, jids, vocab.StateDisconnected); err != nil {
		return fmt.Errorf("set paired: %w", err)
	}
	return nil
}

const selectDevice = `SELECT coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1`

// Device returns the JID of tenant id's paired device ("" when it has
// none); ok is false for an unknown tenant. It returns the database's
// error.
func Device(ctx context.Context, db DB, id string) (jid string, ok bool, err error) {
	err = db.QueryRow(ctx, selectDevice, id).Scan(&jid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read device: %w", err)
	}
	return jid, true, nil
}

// Status is a tenant's row as admin shows it.
type Status struct {
	ID string
	// State is the recorded state, except that a state a worker must be
	// busy with (pairing, connecting, connected) reads as disconnected
	// once the owner's lease is missing or expired.
	State      string
	JID        string
	Worker     string
	Since      time.Time
	LastError  string
	Reconnects int64
	// SendRate and SendBurst are the tenant's own send limits, nil for
	// the workers' defaults.
	SendRate  *float64
	SendBurst *int
	Paused    bool
	// Paired says the tenant has credentials (a device).
	Paired bool
}

// standingState is a tenant's state as it stands (Status.State), for t.
var standingState = `CASE WHEN t.state IN ('` + vocab.StatePairing + `', '` + vocab.StateConnecting + `', '` + vocab.StateConnected + `')
	AND NOT ` + lease.Live("t.id") + ` THEN '` + vocab.StateDisconnected + `' ELSE t.state END`

var selectStatuses = `SELECT t.id, ` + standingState + `, t.jid, t.worker, t.since, t.last_error, t.reconnects,
	t.send_rate, t.send_burst, t.paused, t.device_jid IS NOT NULL
FROM wabus_tenant t`

// Statuses returns the status of tenant id, or of every tenant (by id)
// when id is "": empty for an unknown tenant. It returns the database's
// error.
func Statuses(ctx context.Context, db DB, id string) ([]Status, error) {
	q, args := selectStatuses+` ORDER BY t.id`, []any(nil)
	if id != "" {
		q, args = selectStatuses+` WHERE t.id = $1`, []any{id}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Status])
	if err != nil {
		return nil, fmt.Errorf("read tenants: %w", err)
	}
	return out, nil
}

var countStates = `SELECT ` + standingState + `, count(*) FROM wabus_tenant t GROUP BY 1`

// CountByState counts the tenants by their state as it stands
// (Status.State); a state no tenant is in is missing. It returns the
// database's error.
func CountByState(ctx context.Context, db DB) (map[string]int64, error) {
	rows, err := db.Query(ctx, countStates)
	if err != nil {
		return nil, fmt.Errorf("count tenants by state: %w", err)
	}
	counts := map[string]int64{}
	var state string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error { counts[state] = n; return nil }); err != nil {
		return nil, fmt.Errorf("count tenants by state: %w", err)
	}
	return counts, nil
}

const tenantExists = `SELECT EXISTS (SELECT 1 FROM wabus_tenant WHERE id = $1)`

// Exists reports whether tenant id exists. It returns the database's
// error.
func Exists(ctx context.Context, db DB, id string) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, tenantExists, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up tenant: %w", err)
	}
	return ok, nil
}

const selectJID = `SELECT coalesce(nullif(jid, ''), device_jid, '') FROM wabus_tenant WHERE id = $1`

// KnownJID returns the JID recorded for tenant id (its account's, else its
// device's), "" when none is or the tenant is unknown. It returns the
// database's error.
func KnownJID(ctx context.Context, db DB, id string) (string, error) {
	var jid string
	err := db.QueryRow(ctx, selectJID, id).Scan(&jid)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("read jid: %w", err)
	}
	return jid, nil
}

// PairedIDs is a sub-select of the ids of the paired tenants (those with
// a device), whose sessions must run: what leases are spread over
// (lease.Config.Paired). Its rows are the tenant rows, so that a
// statement may lock them.
const PairedIDs = `(SELECT id FROM wabus_tenant WHERE device_jid IS NOT NULL)`

// Paused renders the condition that the tenant whose id is the SQL
// expression id is paused, for statements of others that skip paused
// tenants (claiming jobs, say).
func Paused(id string) string {
	return "EXISTS (SELECT 1 FROM wabus_tenant WHERE id = " + id + " AND paused)"
}

const selectLimits = `SELECT send_rate, send_burst FROM wabus_tenant WHERE id = $1`

// SendLimits returns tenant id's own send rate and burst, each nil when
// the tenant uses the worker's default (or is unknown). It returns the
// database's error.
func SendLimits(ctx context.Context, db DB, id string) (rate *float64, burst *int, err error) {
	err = db.QueryRow(ctx, selectLimits, id).Scan(&rate, &burst)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("read send limits: %w", err)
	}
	return rate, burst, nil
}

const selectLastState = `SELECT state, coalesce(last_error, '') FROM wabus_tenant WHERE id = $1`

// LastState returns tenant id's recorded state and last error; ok is
// false for an unknown tenant. It returns the database's error.
func LastState(ctx context.Context, db DB, id string) (state, lastError string, ok bool, err error) {
	err = db.QueryRow(ctx, selectLastState, id).Scan(&state, &lastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("read state: %w", err)
	}
	return state, lastError, true, nil
}

// Limits are the send settings of a tenant that an update changes; a
// field left unset keeps its value.
type Limits struct {
	// SetRate says Rate is given; a nil Rate is the worker's default.
	SetRate bool
	Rate    *float64
	// SetBurst says Burst is given; a nil Burst is the worker's default.
	SetBurst bool
	Burst    *int
	// Paused, when set, pauses or resumes the tenant.
	Paused *bool
}

const setLimits = `UPDATE wabus_tenant SET
	send_rate = CASE WHEN $2 THEN $3::double precision ELSE send_rate END,
	send_burst = CASE WHEN $4 THEN $5::integer ELSE send_burst END,
	paused = coalesce($6, paused)
WHERE id = $1`

// SetLimits writes l for tenant id. It returns the database's error.
func SetLimits(ctx context.Context, db DB, id string, l Limits) error {
	if _, err := db.Exec(ctx, setLimits, id, l.SetRate, l.Rate, l.SetBurst, l.Burst, l.Paused); err != nil {
		return fmt.Errorf("set send limits: %w", err)
	}
	return nil
}

const (
	lockTenant   = `SELECT coalesce(device_jid, '') FROM wabus_tenant WHERE id = $1 FOR UPDATE`
	deleteTenant = `DELETE FROM wabus_tenant WHERE id = $1`
)

// Delete deletes tenant id inside tx (its lease cascades) and returns the
// device its row named at that moment ("" for none or an unknown
// tenant). It returns the database's error.
func Delete(ctx context.Context, tx pgx.Tx, id string) (device string, err error) {
	if err := tx.QueryRow(ctx, lockTenant, id).Scan(&device); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("lock tenant: %w", err)
	}
	if _, err := tx.Exec(ctx, deleteTenant, id); err != nil {
		return "", fmt.Errorf("delete tenant: %w", err)
	}
	return device, nil
}

// fence is the owner's condition: the lease in $1 (tenant), $2 (worker),
// $3 (epoch).
var fence = lease.Fence(1, 2, 3)

// State is a session's state change as the owner records it.
type State struct {
	State  string
	JID    string
	Reason string
	// Reconnect counts the change as one more reconnect.
	Reconnect bool
	// BanExpires is when a temporary ban lapses, for banned.
	BanExpires *time.Time
	// ClearDevice forgets the paired device (logged out).
	ClearDevice bool
}

var updateState = `WITH u AS (
	UPDATE wabus_tenant SET state = $4, jid = $5, worker = $2, since = now(), last_error = $6,
		reconnects = reconnects + $7, ban_expires = $8,
		device_jid = CASE WHEN $9 THEN NULL ELSE device_jid END
	WHERE id = $1 AND ` + fence + `
	RETURNING 1)
` + outbox.Insert(10, "EXISTS (SELECT 1 FROM u)")

// RecordState renders the statement that records st for the tenant of l,
// held by worker, and writes msgs (its session event) to the outbox, only
// while the lease holds: it affects no row when a newer owner exists.
func RecordState(l lease.Lease, worker string, st State, msgs ...outbox.Message) (string, []any) {
	reconnect := 0
	if st.Reconnect {
		reconnect = 1
	}
	cols := outbox.Columns(msgs...)
	return updateState, []any{l.Tenant, worker, l.Epoch, st.State, st.JID, st.Reason, reconnect, st.BanExpires,
		st.ClearDevice, cols[0], cols[1], cols[2], cols[3]}
}

var recordRestricted = `WITH u AS (
	UPDATE wabus_tenant SET last_error = $4 WHERE id = $1 AND ` + fence + `
	RETURNING 1)
` + outbox.Insert(5, "EXISTS (SELECT 1 FROM u)")

// RecordError renders the statement that keeps lastError as the tenant's
// last error without changing its state, with msgs, fenced like
// RecordState.
func RecordError(l lease.Lease, worker, lastError string, msgs ...outbox.Message) (string, []any) {
	cols := outbox.Columns(msgs...)
	return recordRestricted, []any{l.Tenant, worker, l.Epoch, lastError, cols[0], cols[1], cols[2], cols[3]}
}

var setDevice = `UPDATE wabus_tenant SET device_jid = $4, jid = $4 WHERE id = $1 AND ` + fence

// SetDevice renders the statement that records jid as the paired device
// of the tenant of l, fenced like RecordState.
func SetDevice(l lease.Lease, worker, jid string) (string, []any) {
	return setDevice, []any{l.Tenant, worker, l.Epoch, jid}
}
