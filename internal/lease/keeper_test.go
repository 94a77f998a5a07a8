package lease_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// recorder is a lease.Owner that remembers which sessions run.
type recorder struct {
	mu      sync.Mutex
	running map[string]int64
	stops   int
}

func (r *recorder) Start(l lease.Lease) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running[l.Tenant] = l.Epoch
}

func (r *recorder) Stop(tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, tenant)
	r.stops++
}

func (r *recorder) Movable(string) bool { return true }

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func keeper(t *testing.T, s *testenv.Stack, id string, ttl time.Duration) (*lease.Keeper, *recorder) {
	t.Helper()
	rec := &recorder{running: map[string]int64{}}
	k, err := lease.New(lease.Config{WorkerID: id, TTL: ttl, Paired: tenant.PairedIDs}, s.Pool, rec, quiet, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return k, rec
}

func pairedTenants(t *testing.T, s *testenv.Stack, n int) {
	t.Helper()
	var ids, jids []string
	for i := range n {
		ids, jids = append(ids, fmt.Sprintf("t%02d", i)), append(jids, fmt.Sprintf("%d:1@s.whatsapp.net", 100+i))
	}
	if err := tenant.SetPaired(context.Background(), s.Pool, ids, jids); err != nil {
		t.Fatal(err)
	}
}

func TestFairShareAndTakeover(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	pairedTenants(t, s, 30)
	ctx := context.Background()
	ttl := 2 * time.Second
	ks := make([]*lease.Keeper, 3)
	recs := make([]*recorder, 3)
	for i := range ks {
		ks[i], recs[i] = keeper(t, s, fmt.Sprintf("w%d", i), ttl)
		ks[i].Heartbeat(ctx)
	}
	for range 3 { // a few rounds settle the shares
		for _, k := range ks {
			k.Tick(ctx)
		}
	}
	for i, r := range recs {
		if r.count() != 10 {
			t.Fatalf("worker %d runs %d tenants, want 10", i, r.count())
		}
	}
	if n := testenv.QueryInt(t, s.Pool, "SELECT count(DISTINCT tenant) FROM wabus_lease"); n != 30 {
		t.Fatalf("%d tenants leased, want 30", n)
	}

	// w2 dies without cleanup while the others keep ticking: its rows
	// expire and the survivors take its tenants over.
	testenv.Eventually(t, 3*ttl, "survivors take over w2's tenants", func() bool {
		ks[0].Tick(ctx)
		ks[1].Tick(ctx)
		return recs[0].count()+recs[1].count() == 30
	})
	if got := recs[0].count() + recs[1].count(); got != 30 {
		t.Fatalf("survivors run %d tenants, want 30", got)
	}
	if recs[0].count() != 15 {
		t.Fatalf("w0 runs %d, want 15", recs[0].count())
	}

	// A new worker w3 gets a fair share as the others release theirs.
	k3, rec3 := keeper(t, s, "w3", ttl)
	k3.Heartbeat(ctx)
	ks[0].Tick(ctx)
	ks[1].Tick(ctx)
	k3.Tick(ctx)
	if rec3.count() != 10 || recs[0].count() != 10 || recs[1].count() != 10 {
		t.Fatalf("after w3 joined: %d %d %d, want 10 each", recs[0].count(), recs[1].count(), rec3.count())
	}
}

func TestFrozenWorkerLosesItsTenants(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	pairedTenants(t, s, 4)
	ctx := context.Background()
	ttl := time.Second
	a, recA := keeper(t, s, "a", ttl)
	a.Tick(ctx)
	if recA.count() != 4 {
		t.Fatalf("a runs %d", recA.count())
	}
	l, _ := a.Held("t00")
	// a is frozen: it stops renewing. Its own clock says stop acting
	// before anyone else may take over.
	testenv.Eventually(t, 3*ttl, "a's lease is no longer valid to act on", func() bool { return !a.Valid(l) })
	testenv.Eventually(t, 3*ttl, "leases expire", func() bool {
		return testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_lease WHERE expires_at > now()") == 0
	})
	b, recB := keeper(t, s, "b", ttl)
	b.Tick(ctx)
	if recB.count() != 4 {
		t.Fatalf("b runs %d, want 4", recB.count())
	}
	// a wakes up: its renewal finds newer epochs and stops its sessions.
	a.Tick(ctx)
	if recA.count() != 0 {
		t.Fatalf("a still runs %d tenants after waking up", recA.count())
	}
	// fenced writes by a's old epoch cannot succeed
	if n := testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_lease WHERE tenant = 't00' AND owner = 'a' AND epoch = $1", l.Epoch); n != 0 {
		t.Fatal("a's epoch still holds")
	}
}

func TestAcquireOnDemandAndForward(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	ctx := context.Background()
	if _, err := tenant.Create(ctx, s.Pool, "new"); err != nil {
		t.Fatal(err)
	}
	a, recA := keeper(t, s, "a", 5*time.Second)
	b, _ := keeper(t, s, "b", 5*time.Second)
	a.Heartbeat(ctx)
	if _, err := a.Acquire(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if recA.count() != 1 {
		t.Fatal("session not started on acquire")
	}
	_, err := b.Acquire(ctx, "new")
	var held *lease.HeldError
	if !asHeld(err, &held) || held.Owner != "a" {
		t.Fatalf("b.Acquire = %v, want lease.HeldError by a", err)
	}
	if _, err := b.Acquire(ctx, "nope"); err != lease.ErrUnknownTenant {
		t.Fatalf("unknown tenant: %v", err)
	}
	if err := a.Release(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "new"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func asHeld(err error, target **lease.HeldError) bool {
	h, ok := err.(*lease.HeldError)
	if ok {
		*target = h
	}
	return ok
}

// barrier is a lease.Owner whose Stop returns only once every one of n sessions
// is being stopped (or a deadline passed): stops run one at a time never
// get there.
type barrier struct {
	recorder
	n       int
	entered chan struct{}
	all     chan struct{}
	timeout bool
}

func (b *barrier) Stop(tenant string) {
	b.entered <- struct{}{}
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
		b.mu.Lock()
		b.timeout = true
		b.mu.Unlock()
	}
	b.recorder.Stop(tenant)
}

// A stopping worker stops its sessions and releases their leases all at
// once, not one after the other.
func TestShutdownReleasesTenantsInParallel(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	pairedTenants(t, s, 5)
	ctx, cancel := context.WithCancel(context.Background())
	b := &barrier{recorder: recorder{running: map[string]int64{}}, n: 5,
		entered: make(chan struct{}, 5), all: make(chan struct{})}
	k, err := lease.New(lease.Config{WorkerID: "a", TTL: 5 * time.Second, Paired: tenant.PairedIDs}, s.Pool, b, quiet, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	k.Tick(ctx)
	if b.count() != 5 {
		t.Fatalf("a runs %d of 5", b.count())
	}
	go func() {
		for range b.n {
			<-b.entered
		}
		close(b.all)
	}()
	cancel()
	if err := k.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if b.timeout {
		t.Fatal("sessions were stopped one at a time")
	}
	if b.count() != 0 || testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_lease") != 0 {
		t.Fatalf("after shutdown: %d running, leases left", b.count())
	}
}

// A worker that gives tenants up to a newcomer stops their sessions at the
// same time, not one after the other: with thousands to give up, one at a
// time held its tick (and so the renewal of the leases it keeps) for
// longer than the leases live, and it lost those too.
func TestRebalanceReleasesTenantsInParallel(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	pairedTenants(t, s, 6)
	ctx := context.Background()
	b := &barrier{recorder: recorder{running: map[string]int64{}}, n: 3,
		entered: make(chan struct{}, 6), all: make(chan struct{})}
	k, err := lease.New(lease.Config{WorkerID: "a", TTL: 30 * time.Second, Paired: tenant.PairedIDs}, s.Pool, b, quiet, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	k.Tick(ctx)
	if b.count() != 6 {
		t.Fatalf("a runs %d of 6", b.count())
	}
	other, _ := keeper(t, s, "b", 30*time.Second)
	if err := other.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range b.n {
			<-b.entered
		}
		close(b.all)
	}()
	k.Tick(ctx) // a's share is now 3: it gives 3 up
	if b.timeout {
		t.Fatal("sessions given up were stopped one at a time")
	}
	if b.count() != 3 || testenv.QueryInt(t, s.Pool, "SELECT count(*) FROM wabus_lease WHERE owner = 'a'") != 3 {
		t.Fatalf("after the rebalance a runs %d, want 3", b.count())
	}
}
