package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// TestPoolFollowsAFailover runs the pool on a multi-host URL with
// target_session_attrs=read-write over a primary and its synchronous
// standby, crashes the primary and promotes the standby: the pool goes on
// writing to the new primary, and every commit acknowledged before the
// crash is there.
func TestPoolFollowsAFailover(t *testing.T) {
	t.Parallel()
	primary := testenv.PrivatePostgres(t)
	standby := primary.Standby(true)
	url := "postgres://postgres@" + primary.HostPort() + "," + standby.HostPort() +
		"/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE failover_probe (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for n := range 200 {
		if _, err := pool.Exec(ctx, `INSERT INTO failover_probe VALUES ($1)`, n); err != nil {
			t.Fatalf("insert %d: %v", n, err)
		}
	}
	primary.Stop() // immediate: a crash
	standby.Promote()
	// Connections to the dead primary fail and are dropped; new ones go to
	// the only read-write host left.
	testenv.Eventually(t, 60*time.Second, "a write on the promoted standby", func() bool {
		_, err := pool.Exec(ctx, `INSERT INTO failover_probe VALUES (200)`)
		return err == nil
	})
	var rows, recovery int64
	if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE pg_is_in_recovery()) FROM failover_probe`).Scan(&rows, &recovery); err != nil {
		t.Fatal(err)
	}
	if rows != 201 || recovery != 0 {
		t.Fatalf("the new primary has %d rows (%d read in recovery), want the 200 acknowledged before the crash and 1 after", rows, recovery)
	}
	if applied := testenv.QueryInt(t, pool, `SELECT count(*) FROM wabus_schema_version`); applied == 0 {
		t.Fatal("the migrations did not reach the standby")
	}
}
