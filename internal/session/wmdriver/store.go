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

	"github.com/wabus/wabus/internal/session/wa"
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

// Store is the device store: whatsmeow's tables (whatsmeow_*) in wabus's
// database, through pgx. It implements wa.DeviceStore; its devices are the
// ones Driver.Open takes. Build it with NewStore or OpenStore.
type Store struct {
	Devices
	container *sqlstore.Container
}

var _ wa.DeviceStore = (*Store)(nil)

// NewStore returns the device store on pool without touching its tables:
// Upgrade creates or upgrades them (for db.Migrate, under its lock).
// Closing the store does not close pool.
func NewStore(pool *pgxpool.Pool, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Store{container: sqlstore.NewWithDB(stdlib.OpenDBFromPool(pool), storeDialect, NewLogger(logger, "whatsmeow/store"))}
}

// OpenStore returns the device store on pool, with its tables created or
// upgraded. Upgrades run under a Postgres advisory lock held on a
// connection of its own (outside pool, so that processes waiting for the
// lock cannot starve the upgrade of pooled connections), so any number of
// processes may call it at once. It returns an error when that connection
// or the lock cannot be had or the upgrade fails. Closing the store does
// not close pool.
func OpenStore(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*Store, error) {
	s := NewStore(pool, logger)
	if err := upgradeLocked(ctx, pool, s); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func upgradeLocked(ctx context.Context, pool *pgxpool.Pool, s *Store) error {
	lock, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect for whatsmeow upgrade lock: %w", err)
	}
	defer lock.Close(context.WithoutCancel(ctx))
	if _, err := lock.Exec(ctx, lockUpgradeQuery, upgradeLockKey); err != nil {
		return fmt.Errorf("take whatsmeow upgrade lock: %w", err)
	}
	return s.Upgrade(ctx)
}

// Upgrade creates or upgrades whatsmeow's tables. The caller serialises
// concurrent upgrades (db.Migrate runs it under its lock). It returns the
// database's error.
func (s *Store) Upgrade(ctx context.Context) error {
	if err := s.container.Upgrade(ctx); err != nil {
		return fmt.Errorf("upgrade whatsmeow store: %w", err)
	}
	return nil
}

// Close closes the store's handle on the pool.
func (s *Store) Close() error { return s.container.Close() }

// NewDevice implements wa.DeviceStore.
func (s *Store) NewDevice() wa.Device { return &device{dev: s.container.NewDevice()} }

// Device implements wa.DeviceStore.
func (s *Store) Device(ctx context.Context, jid string) (wa.Device, error) {
	parsed, err := types.ParseJID(jid)
	if err != nil {
		return nil, fmt.Errorf("parse device jid: %w", err)
	}
	dev, err := s.container.GetDevice(ctx, parsed)
	if err != nil {
		return nil, err
	}
	if dev == nil {
		return nil, nil
	}
	return &device{dev: dev}, nil
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
