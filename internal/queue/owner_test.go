package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/outbox"
	"github.com/wabus/wabus/internal/queue"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// fenced leases tenant to w1 and returns the fence.
func fenced(t testing.TB, s *testenv.Stack, tenant string) queue.Fence {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id) VALUES ($1)`, tenant); err != nil {
		t.Fatal(err)
	}
	var epoch int64
	err := s.Pool.QueryRow(ctx, `INSERT INTO wabus_lease (tenant, owner, expires_at) VALUES ($1, 'w1', now() + interval '1 hour') RETURNING epoch`, tenant).Scan(&epoch)
	if err != nil {
		t.Fatal(err)
	}
	return queue.Fence{Owner: "w1", Epoch: epoch}
}

func runWriter(t *testing.T, w *outbox.Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx, 1) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// Claiming the next job must go through the index of live rows however
// the table grew since the connection first claimed: neither a
// sequential scan nor a walk over the tenant's finished rows.
func TestClaimReadsOnlyLiveRowsAfterTheTableGrew(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	f := fenced(t, s, "acme")
	scans := testenv.NewScans(t, s.DBURL, s.Pool, "wabus_job")
	w := outbox.NewWriter(scans.Pool, nil)
	runWriter(t, w)
	store := queue.New(scans.Pool, w, s.Names)
	if _, err := scans.Pool.Exec(ctx, `ANALYZE wabus_job`); err != nil {
		t.Fatal(err)
	}
	for range 10 { // enough runs for a prepared statement to go generic
		if jobs, err := store.Claim(ctx, "acme", f, 16); err != nil || len(jobs) != 0 {
			t.Fatalf("claim on an empty table: %v %v", jobs, err)
		}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO wabus_job (tenant, job_id, seq, status, created_at, expires_at)
		SELECT 'acme', 'done-' || i, i, 'sent', now(), now() FROM generate_series(1, 50000) i`)
	if err == nil {
		_, err = s.Pool.Exec(ctx, `INSERT INTO wabus_job (tenant, job_id, seq, status, payload, created_at, expires_at)
			VALUES ('acme', 'next', 50001, 'queued', '{}', now(), now() + interval '1 hour'),
			       ('other', 'x', 50002, 'queued', '{}', now(), now() + interval '1 hour')`)
	}
	if err != nil {
		t.Fatal(err)
	}
	idx := func() int64 {
		return testenv.QueryInt(t, s.Pool, `SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname = 'wabus_job'`)
	}
	seqBefore := scans.Read(t)
	idxBefore := idx()
	jobs, err := store.Claim(ctx, "acme", f, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].ID != "next" || jobs[0].Status != queue.StatusSending {
		t.Fatalf("claimed %+v, want acme's next job", jobs)
	}
	if n := scans.Read(t) - seqBefore; n >= 50000 {
		t.Fatalf("one claim read %d rows sequentially", n)
	}
	if n := idx() - idxBefore; n >= 1000 {
		t.Fatalf("one claim read %d index entries: it walked the finished rows", n)
	}
}

// Recording an outcome finds its row by primary key however the table grew
// since the connection first did it.
func TestFinishFindsItsRowAfterTheTableGrew(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	f := fenced(t, s, "acme")
	scans := testenv.NewScans(t, s.DBURL, s.Pool, "wabus_job")
	w := outbox.NewWriter(scans.Pool, nil)
	runWriter(t, w)
	store := queue.New(scans.Pool, w, s.Names)
	if _, err := scans.Pool.Exec(ctx, `ANALYZE wabus_job`); err != nil {
		t.Fatal(err)
	}
	for i := range 10 { // a row that vanished is recorded as what was done
		j := &queue.Job{Tenant: "acme", ID: fmt.Sprint("warm-", i), CreatedAt: time.Now()}
		if err := store.Finish(ctx, f, j, queue.Outcome{Sent: true, MessageID: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO wabus_job (tenant, job_id, seq, status, payload, created_at, expires_at)
		SELECT 'acme', 'job-' || i, i, 'sending', '{}', now(), now() + interval '1 hour' FROM generate_series(1, 50000) i`)
	if err != nil {
		t.Fatal(err)
	}
	before := scans.Read(t)
	j := &queue.Job{Tenant: "acme", ID: "job-777", Seq: 777, Payload: []byte("{}")}
	if err := store.Finish(ctx, f, j, queue.Outcome{Sent: true, MessageID: "m"}); err != nil {
		t.Fatal(err)
	}
	if n := scans.Read(t) - before; n >= 50000 {
		t.Fatalf("one outcome read %d rows sequentially", n)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE status = 'sent' AND job_id = 'job-777'`); n != 1 {
		t.Fatalf("job-777 not recorded sent")
	}
	// fenced: a lease that moved on records nothing
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_lease SET epoch = nextval('wabus_lease_epoch')`); err != nil {
		t.Fatal(err)
	}
	j = &queue.Job{Tenant: "acme", ID: "job-778", Seq: 778}
	if err := store.Finish(ctx, f, j, queue.Outcome{Sent: true, MessageID: "m"}); err != queue.ErrFenced {
		t.Fatalf("finish under an old epoch: %v, want ErrFenced", err)
	}
}

// Tenants that claim and record at the same time share statements: each
// gets its own next jobs in order, records only under its own lease, and a
// tenant whose lease moved on gets nothing and ErrFenced while the others
// go through.
func TestTenantsClaimAndFinishTogether(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	w := outbox.NewWriter(s.Pool, nil)
	runWriter(t, w)
	store := queue.New(s.Pool, w, s.Names)
	const tenants = 30
	fences := make([]queue.Fence, tenants)
	for i := range tenants {
		tenant := fmt.Sprintf("t%02d", i)
		fences[i] = fenced(t, s, tenant)
		_, err := s.Pool.Exec(ctx, `INSERT INTO wabus_job (tenant, job_id, seq, status, payload, recipient, kind, created_at, expires_at)
			SELECT $1, $1 || '-' || k, $2 * 10 + k, 'queued', '{}', '+51987654321', 'text', now(), now() + interval '1 hour'
			FROM generate_series(1, 3) k`, tenant, i)
		if err != nil {
			t.Fatal(err)
		}
	}
	fences[7].Epoch = -1 // t07's lease moved on
	var wg sync.WaitGroup
	for i := range tenants {
		wg.Go(func() {
			tenant := fmt.Sprintf("t%02d", i)
			jobs, err := store.Claim(ctx, tenant, fences[i], 2)
			if err != nil {
				t.Errorf("%s claim: %v", tenant, err)
				return
			}
			if i == 7 {
				if len(jobs) != 0 {
					t.Errorf("t07 claimed %d jobs under an old epoch", len(jobs))
				}
				j := &queue.Job{Tenant: tenant, ID: "t07-1", Seq: 71}
				if err := store.Finish(ctx, fences[i], j, queue.Outcome{Sent: true, MessageID: "m"}); err != queue.ErrFenced {
					t.Errorf("t07 finish under an old epoch: %v, want ErrFenced", err)
				}
				return
			}
			if len(jobs) != 2 || jobs[0].ID != tenant+"-1" || jobs[1].ID != tenant+"-2" {
				t.Errorf("%s claimed %v", tenant, ids(jobs))
				return
			}
			done := make([]queue.Done, len(jobs))
			for k, j := range jobs {
				if j.Tenant != tenant {
					t.Errorf("%s got %s's job", tenant, j.Tenant)
				}
				done[k] = queue.Done{Job: j, Outcome: queue.Outcome{Sent: true, MessageID: "m-" + j.ID, SentAt: time.Now()}}
			}
			if err := store.FinishAll(ctx, fences[i], tenant, done); err != nil {
				t.Errorf("%s finish: %v", tenant, err)
			}
		})
	}
	wg.Wait()
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE status = 'sent' AND message_id = 'm-' || job_id`); n != 2*(tenants-1) {
		t.Fatalf("%d jobs recorded sent, want %d", n, 2*(tenants-1))
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 't07' AND status <> 'queued'`); n != 0 {
		t.Fatalf("t07 has %d rows changed under an old epoch", n)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_outbox`); n != 2*(tenants-1) {
		t.Fatalf("%d outbox rows, want one sent event per recorded job (%d)", n, 2*(tenants-1))
	}
}

func ids(jobs []*queue.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}
