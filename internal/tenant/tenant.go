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
