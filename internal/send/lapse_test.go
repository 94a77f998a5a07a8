package send_test

import (
	"context"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
)

// TestSendingResumesAfterTheLeasesWereInDoubt holds the lease renewals of
// a worker back (a lock on the lease table, as a Postgres failover does
// while no host takes writes) until its leases are past the time they are
// surely valid, rings the tenant's loop meanwhile, then lets the renewal
// through. The leases were never lost, so the session stays: its jobs must
// be sent once the leases are renewed, not wait for a reconnect that never
// comes.
func TestSendingResumesAfterTheLeasesWereInDoubt(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	cfg := workertest.Config(t, s, "w1")
	workertest.Start(t, s, cfg)
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	publish(t, s.JS, s.Names.Send("acme"), textJob("job-0", "+51987654321", "before"), "")
	testenv.Eventually(t, 30*time.Second, "job-0 delivered", func() bool { return deliveries.Len() == 1 })

	ctx := context.Background()
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `LOCK TABLE wabus_lease IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "a renewal held back past the lease TTL", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'
			AND query LIKE 'UPDATE wabus_lease l SET expires_at%' AND now() - query_start > $1::interval`,
			cfg.LeaseTTL.String()) > 0
	})
	publish(t, s.JS, s.Names.Send("acme"), textJob("job-1", "+51987654321", "after"), "")
	testenv.Eventually(t, 30*time.Second, "job-1 queued (its bell rung)", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 'acme' AND job_id = 'job-1'`) == 1
	})
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "job-1 delivered once the leases are renewed", func() bool { return deliveries.Len() == 2 })
}
