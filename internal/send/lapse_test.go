package send_test

import (
	"context"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testenv"
	"github.com/wabus/wabus/internal/worker/workertest"
)

// A lease renewal that is held up past the keeper's safety margin (Postgres
// slow, a long rebalance) makes the worker stop acting for its tenants for
// a moment. Once the renewal goes through, the tenant's jobs must flow
// again: the send loop waits out the lapse instead of ending for good while
// the session stays connected.
func TestSendingResumesAfterTheLeaseLapsedForAMoment(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1")) // 3s lease
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	publish(t, s.JS, s.Names.Send("acme"), textJob("before", "+51987654321", "one"), "before")
	waitDelivered(t, deliveries, "before")

	// Hold the lease row so that renewals wait: past the lease's margin and
	// past one idle check of the send loop (5s).
	ctx := context.Background()
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM wabus_lease WHERE tenant = 'acme' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "lease past its expiry while renewals wait", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_lease WHERE tenant = 'acme' AND expires_at < now()`) == 1
	})
	<-time.After(6 * time.Second) // the fault lasts one idle check more
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "lease renewed by its owner", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_lease WHERE tenant = 'acme' AND owner = 'w1' AND expires_at > now()`) == 1
	})
	publish(t, s.JS, s.Names.Send("acme"), textJob("after", "+51987654321", "two"), "after")
	waitDelivered(t, deliveries, "after")
}

func waitDelivered(t *testing.T, d *workertest.Deliveries, jobID string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, jobID+" delivered", func() bool {
		for _, x := range d.All() {
			if x.JobID == jobID {
				return true
			}
		}
		return false
	})
}
