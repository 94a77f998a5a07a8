package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// A commit whose acknowledgement is lost (Postgres crashing at that
// moment) is retried: recording the same outcomes again, under a lease
// that still holds, is not taken for a lost lease (which stops the
// tenant's send loop for good while its session stays), and reports
// nothing twice. Under a lease that moved on it still is.
func TestRecordingOutcomesAgainIsNotALostLease(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	f := fenced(t, s, "acme")
	w := outbox.NewWriter(s.Pool, nil)
	runWriter(t, w)
	store := queue.New(s.Pool, w, s.Names)
	j := &queue.Job{Tenant: "acme", ID: "job-1", Seq: 1, Payload: []byte("{}"), CreatedAt: time.Now()}
	o := queue.Outcome{Sent: true, MessageID: "m1", SentAt: time.Now()}
	if err := store.Finish(ctx, f, j, o); err != nil {
		t.Fatal(err)
	}
	if err := store.Finish(ctx, f, j, o); err != nil {
		t.Fatalf("recording job-1's outcome again: %v, want nil", err)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_outbox`); n != 1 {
		t.Fatalf("%d outbox rows, want job-1's sent event once", n)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_lease SET epoch = nextval('wabus_lease_epoch')`); err != nil {
		t.Fatal(err)
	}
	if err := store.Finish(ctx, f, j, o); err != queue.ErrFenced {
		t.Fatalf("recording under an old epoch: %v, want ErrFenced", err)
	}
}
