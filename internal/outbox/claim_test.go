package outbox

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/testing/testenv"
)

// Claiming a batch must not sort the whole outbox however it grew since the
// connection first claimed (NATS away for a while): a prepared statement's
// generic plan, made while the outbox was empty, scans all of it.
func TestClaimDoesNotScanABacklog(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	scans := testenv.NewScans(t, s.DBURL, s.Pool, "wabus_outbox")
	if _, err := scans.Pool.Exec(ctx, `ANALYZE wabus_outbox`); err != nil {
		t.Fatal(err)
	}
	claimIn := func() []row {
		var got []row
		err := pgx.BeginFunc(ctx, scans.Pool, func(tx pgx.Tx) error {
			var err error
			got, err = claim(ctx, tx, 100)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for range 10 { // enough runs for a prepared statement to go generic
		claimIn()
	}
	if _, err := scans.Pool.Exec(ctx, `INSERT INTO wabus_outbox (event_id, subject, payload) SELECT 'e' || i, 'x', '\x00' FROM generate_series(1, 50000) i`); err != nil {
		t.Fatal(err)
	}
	before := scans.Read(t)
	if got := claimIn(); len(got) != 100 || got[0].id != "e1" {
		t.Fatalf("claimed %d rows, first %+v; want the oldest 100", len(got), got)
	}
	if n := scans.Read(t) - before; n >= 50000 {
		t.Fatalf("one claim read %d outbox rows sequentially: the backlog was scanned", n)
	}
}
