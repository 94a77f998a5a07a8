package db

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/migrations"
)

// migrateLockKey is the advisory lock every process takes while it migrates,
// so that several processes starting at once apply each step exactly once.
const migrateLockKey = 0x77616275 // "wabu"

var migrationName = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.up\.sql$`)

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded schema steps in order. It returns an error
// when a file name does not follow NNN_name.up.sql or a version repeats.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %q: name is not NNN_name.up.sql", e.Name())
		}
		body, err := fs.ReadFile(migrations.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		v, _ := strconv.Atoi(m[1])
		out = append(out, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migration version %03d appears twice", out[i].Version)
		}
	}
	return out, nil
}

// Migrate applies the steps that the database has not recorded yet, each in
// its own transaction, while holding a session advisory lock, then runs each
// of after (for example whatsmeow's own upgrade) under the same lock. Several
// processes may call it at once: the later ones wait and find nothing to do.
// It returns the first error of any step; a failed step leaves no trace.
func Migrate(ctx context.Context, pool *pgxpool.Pool, after ...func(context.Context) error) error {
	steps, err := Migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey)

	if err := applySteps(ctx, conn.Conn(), steps); err != nil {
		return err
	}
	for _, fn := range after {
		if err := fn(ctx); err != nil {
			return err
		}
	}
	return nil
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS wabus_schema_version (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

func applySteps(ctx context.Context, conn *pgx.Conn, steps []Migration) error {
	if _, err := conn.Exec(ctx, createVersionTable); err != nil {
		return fmt.Errorf("create version table: %w", err)
	}
	var current int
	err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM wabus_schema_version").Scan(&current)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for _, s := range steps {
		if s.Version <= current {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, s.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO wabus_schema_version (version, name) VALUES ($1, $2)", s.Version, s.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %03d_%s: %w", s.Version, s.Name, err)
		}
	}
	return nil
}
