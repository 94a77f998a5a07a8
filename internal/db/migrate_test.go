package db_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wabus/wabus/internal/db"
	"github.com/wabus/wabus/internal/testing/testenv"
)

const describeSchema = `SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':' || is_nullable, E'\n'
	ORDER BY table_name, column_name)
FROM information_schema.columns WHERE table_schema = 'public'`

func schema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), describeSchema).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMigrateTwiceEndsInTheSameSchema(t *testing.T) {
	t.Parallel()
	pool := testenv.Pool(t, testenv.PostgresDB(t))
	ctx := context.Background()
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	first := schema(t, pool)
	if err := db.Migrate(ctx, pool); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if second := schema(t, pool); second != first {
		t.Fatalf("schema changed on the second run:\n%s\n---\n%s", first, second)
	}
	steps, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n := testenv.QueryInt(t, pool, "SELECT count(*) FROM wabus_schema_version"); n != int64(len(steps)) {
		t.Fatalf("version table has %d rows, want %d", n, len(steps))
	}
	for _, table := range []string{"wabus_tenant", "wabus_lease", "wabus_job", "wabus_ingest_lease", "wabus_outbox", "wabus_worker"} {
		if !strings.Contains(first, table+".") {
			t.Errorf("table %s missing from the schema", table)
		}
	}
}

func TestMigrateConcurrentlyFromSeveralProcesses(t *testing.T) {
	t.Parallel()
	url := testenv.PostgresDB(t)
	ref := testenv.Pool(t, testenv.PostgresDB(t))
	if err := db.Migrate(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	// Each "process" has its own pool, so its own Postgres sessions.
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	afterRuns := make([]int, n)
	var mu sync.Mutex
	for i := range n {
		pool := testenv.Pool(t, url)
		wg.Go(func() {
			errs[i] = db.Migrate(context.Background(), pool, func(context.Context) error {
				mu.Lock()
				afterRuns[i]++
				mu.Unlock()
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		if afterRuns[i] != 1 {
			t.Fatalf("process %d ran its after-hook %d times", i, afterRuns[i])
		}
	}
	pool := testenv.Pool(t, url)
	if got, want := schema(t, pool), schema(t, ref); got != want {
		t.Fatalf("concurrent migration schema differs:\n%s\n---\n%s", got, want)
	}
	steps, _ := db.Migrations()
	if n := testenv.QueryInt(t, pool, "SELECT count(*) FROM wabus_schema_version"); n != int64(len(steps)) {
		t.Fatalf("version table has %d rows, want %d (a step applied twice or not at all)", n, len(steps))
	}
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	steps, err := db.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// Versions grow from 1; a number may be missing while the step that
	// holds it is merged from another branch (Migrations refuses repeats).
	for i, s := range steps {
		if i == 0 && s.Version != 1 || i > 0 && s.Version <= steps[i-1].Version {
			t.Fatalf("migration %d has version %d: versions must grow from 1", i, s.Version)
		}
	}
}
