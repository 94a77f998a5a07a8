package send

import (
	"context"
	"fmt"
	"testing"

	"github.com/wabus/wabus/internal/testenv"
)

// The ledger lookup must find jobs by primary key however the ledger grew
// since the connection first ran it: a prepared statement's generic plan,
// made while the ledger was empty, scans the whole table on every batch.
func TestLookupDoesNotScanTheLedgerAfterItGrew(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	scans := testenv.NewScans(t, s.DBURL, s.Pool, "wabus_send")
	if _, err := scans.Pool.Exec(ctx, `ANALYZE wabus_send`); err != nil {
		t.Fatal(err)
	}
	l := newLookups(scans.Pool)
	batch := func(n int) []*lookupReq {
		out := make([]*lookupReq, n)
		for i := range out {
			out[i] = &lookupReq{tenant: "acme", job: fmt.Sprintf("job-%d", 1+i*997)}
		}
		return out
	}
	for range 10 { // enough runs for a prepared statement to go generic
		if _, err := l.query(ctx, batch(20)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := scans.Pool.Exec(ctx, `INSERT INTO wabus_send (tenant, job_id, status) SELECT 'acme', 'job-' || i, 'sent' FROM generate_series(1, 50000) i`); err != nil {
		t.Fatal(err)
	}
	before := scans.Read(t)
	found, err := l.query(ctx, batch(20))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 20 {
		t.Fatalf("found %d of 20 jobs", len(found))
	}
	if n := scans.Read(t) - before; n >= 50000 {
		t.Fatalf("one lookup batch read %d ledger rows sequentially: the ledger was scanned", n)
	}
}
