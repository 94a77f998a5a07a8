package wmdriver

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// storeDialect is the dialect given to whatsmeow's sqlstore for a pgx-backed
// *sql.DB. whatsmeow maps both "pgx" and "postgres" to its Postgres dialect
// when handed a *sql.DB; "pgx" is also the name of pgx's database/sql driver.
const storeDialect = "pgx"

// upgradeLockKey is the advisory lock that serialises whatsmeow's schema
// upgrades between processes starting at once.
const upgradeLockKey int64 = 0x7761_6275_735f_776d // "wabus_wm"

// lockUpgradeQuery takes the upgrade lock; closing the session releases it.
const lockUpgradeQuery = `SELECT pg_advisory_lock($1)`

// OpenStore returns whatsmeow's device store on pool, with its tables
// (whatsmeow_*) created or upgraded. Upgrades run under a Postgres advisory
// lock held on a connection of its own (outside pool, so that processes
// waiting for the lock cannot starve the upgrade of pooled connections), so
// any number of processes may call it at once. It returns an error when
// that connection or the lock cannot be had or the upgrade fails. Closing
// the container does not close pool.
func OpenStore(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*sqlstore.Container, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	container := sqlstore.NewWithDB(stdlib.OpenDBFromPool(pool), storeDialect, NewLogger(logger, "whatsmeow/store"))
	if err := upgradeLocked(ctx, pool, container); err != nil {
		_ = container.Close()
		return nil, err
	}
	return container, nil
}

func upgradeLocked(ctx context.Context, pool *pgxpool.Pool, container *sqlstore.Container) error {
	lock, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect for whatsmeow upgrade lock: %w", err)
	}
	defer lock.Close(context.WithoutCancel(ctx))
	if _, err := lock.Exec(ctx, lockUpgradeQuery, upgradeLockKey); err != nil {
		return fmt.Errorf("take whatsmeow upgrade lock: %w", err)
	}
	if err := container.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade whatsmeow store: %w", err)
	}
	return nil
}

// Devices removes paired devices from whatsmeow's store inside a
// transaction of the caller's (admin deleting a tenant). It knows which of
// whatsmeow's tables hold a device; its zero value is ready to use.
type Devices struct{}

const (
	// whatsmeow's tables exist once a worker has upgraded its store.
	deviceTables = `SELECT to_regclass('whatsmeow_device') IS NOT NULL, to_regclass('whatsmeow_privacy_tokens') IS NOT NULL`
	// whatsmeow's per-device tables reference whatsmeow_device with ON
	// DELETE CASCADE, except whatsmeow_privacy_tokens.
	deleteDevices       = `DELETE FROM whatsmeow_device WHERE jid = ANY($1)`
	deletePrivacyTokens = `DELETE FROM whatsmeow_privacy_tokens WHERE our_jid = ANY($1)`
)

// DeleteDevices deletes the credentials of the devices jids (device JIDs
// as wabus_tenant keeps them) and their privacy tokens inside tx; before
// any worker created whatsmeow's tables there is nothing to delete. It
// returns the database's error.
func (Devices) DeleteDevices(ctx context.Context, tx pgx.Tx, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	var devices, tokens bool
	if err := tx.QueryRow(ctx, deviceTables).Scan(&devices, &tokens); err != nil {
		return fmt.Errorf("look up device tables: %w", err)
	}
	if devices {
		if _, err := tx.Exec(ctx, deleteDevices, jids); err != nil {
			return fmt.Errorf("delete credentials: %w", err)
		}
	}
	if tokens {
		if _, err := tx.Exec(ctx, deletePrivacyTokens, tokenOwners(jids)); err != nil {
			return fmt.Errorf("delete privacy tokens: %w", err)
		}
	}
	return nil
}

// tokenOwners returns jids with, for each, the account JID without its
// device part, under which whatsmeow may keep privacy tokens too.
func tokenOwners(jids []string) []string {
	out := slices.Clone(jids)
	for _, j := range jids {
		if parsed, err := types.ParseJID(j); err == nil {
			out = append(out, parsed.ToNonAD().String())
		}
	}
	return out
}
