package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/testing/harness"
)

// DefaultPostgresURL is the shared server's admin URL when
// WABUS_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresDB returns the URL of a new empty database on the shared server,
// dropped when the test ends. The database name is derived from the test's.
func PostgresDB(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("WABUS_TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultPostgresURL
	}
	return createDatabase(t, admin)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

func createDatabase(t testing.TB, admin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: Postgres is not reachable at %s (start it, or set WABUS_TEST_DATABASE_URL): %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	name := dbName(t.Name())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String()
}

func dbName(test string) string {
	base := unsafeChars.ReplaceAllString(strings.ToLower(test), "_")
	if len(base) > 40 {
		base = base[:40]
	}
	return "wabus_" + strings.Trim(base, "_") + "_" + randHex(4)
}

func dropDatabase(t testing.TB, admin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Logf("testenv: drop database %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("testenv: drop database %s: %v", name, err)
	}
}

// Pool opens a pool on url as the processes do (db.Open), closed when the
// test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("testenv: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Prefix returns a subject prefix unique to this test run, so that tests
// sharing one nats-server never see each other's subjects or streams.
func Prefix(t testing.TB) string {
	t.Helper()
	return "t" + randHex(5)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

// QueryInt runs a query returning one integer, failing the test on error.
func QueryInt(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("testenv: %s: %v", sql, err)
	}
	return n
}

// Eventually polls cond every 20ms until it returns true or the deadline
// passes, then fails the test with msg. It is how tests wait for an effect
// without sleeping a fixed time.
func Eventually(t testing.TB, within time.Duration, msg string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if harness.Poll(ctx, 20*time.Millisecond, func() (bool, error) { return cond(), nil }) != nil {
		t.Fatalf("timed out after %s: %s", within, msg)
	}
}

// Scans counts the rows Postgres reads sequentially from one table, as
// the backend of a one-connection pool sees them: a test runs a query on
// Pool, then asks Read how many rows were scanned so far. It tells an
// index lookup from a table scan without timing anything.
type Scans struct {
	Pool  *pgxpool.Pool // one connection: the backend whose counters flush
	admin *pgxpool.Pool
	table string
}

// NewScans opens a one-connection pool on url (closed when the test ends)
// and reads table's counters through admin.
func NewScans(t testing.TB, url string, admin *pgxpool.Pool, table string) *Scans {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testenv: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return &Scans{Pool: pool, admin: admin, table: table}
}

// Read flushes the backend's statistics and returns the rows of the table
// read by sequential scans so far.
func (s *Scans) Read(t testing.TB) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`); err != nil {
		t.Fatalf("testenv: flush stats: %v", err)
	}
	var n int64
	err := s.admin.QueryRow(ctx, `SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = $1`, s.table).Scan(&n)
	if err != nil {
		t.Fatalf("testenv: read stats: %v", err)
	}
	return n
}
