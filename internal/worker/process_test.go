package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/harness"
)

// These tests run cmd/worker as real processes (simulator driver) and do to
// them what an operator's bad day does: SIGKILL, SIGTERM. They assert what a
// user would notice — connections, delivered messages, events — and log
// the measured times without asserting them (docs/BENCHMARKS.md has the
// figures from cmd/wabus-load).

// A worker killed in the middle of a batch of jobs loses none of them and
// sends none twice under different WhatsApp ids; once it is back (or others
// took over) every job is sent.
func TestProcessKilledWorkerMidJobs(t *testing.T) {
	t.Parallel()
	s := newProcessStack(t, 3)
	tenants := tenantIDs(6)
	pairAll(t, s, tenants)
	jobs := harness.TextJobs("kill", tenants, 5000)
	pub := harness.NewPublisher(s.JS, s.Names)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	published := make(chan error, 1)
	go func() { published <- pub.Publish(ctx, jobs, 0, 16) }()

	if err := harness.Poll(ctx, 5*time.Millisecond, func() (bool, error) {
		return s.Events.Outcomes() >= len(jobs)/5, nil
	}); err != nil {
		t.Fatal(err)
	}
	victim, owned := s.Busiest()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	t.Logf("killed %s (tenants %v) after %d of %d outcomes", victim.ID(), owned, s.Events.Outcomes(), len(jobs))
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	exp := harness.Expect{Tenants: tenants, Jobs: jobs}
	settle(t, s, exp, 120*time.Second)
	t.Logf("all %d jobs had an outcome %s after the kill", len(jobs), time.Since(killedAt).Round(time.Millisecond))
	r := verify(t, s, exp)
	if r.Sent != len(jobs) {
		t.Errorf("sent %d of %d jobs; failed by code: %v", r.Sent, len(jobs), r.FailedCodes)
	}
	t.Logf("delivered again under the same id after the crash: %d jobs", r.Repeated)
}

// A killed worker's tenants are connected by the others, and no tenant is
// ever connected twice at once.
func TestProcessKilledWorkerTenantsTakenOver(t *testing.T) {
	t.Parallel()
	s := newProcessStack(t, 3)
	tenants := tenantIDs(30)
	pairAll(t, s, tenants)
	for _, tn := range tenants {
		if live := s.Observer.Live(tn); len(live) != 1 {
			t.Fatalf("tenant %s has live connections %v, want exactly one", tn, live)
		}
	}

	victim, owned := s.Busiest()
	t.Logf("killing %s, which holds %d of %d tenants", victim.ID(), len(owned), len(tenants))
	killed := time.Now()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	took, err := s.Observer.WaitTakeover(ctx, owned, killed, victim.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover of %d tenants after SIGKILL: %s (lease TTL %s)", len(owned), took.Round(time.Millisecond), processLeaseTTL)
	settle(t, s, harness.Expect{Tenants: tenants}, 30*time.Second)
	verify(t, s, harness.Expect{Tenants: tenants})
}

// Inbound messages that arrive while a worker is killed all end up on the
// bus: the simulated server redelivers what no worker acknowledged.
func TestProcessKilledWorkerInbound(t *testing.T) {
	t.Parallel()
	s := newProcessStack(t, 3)
	tenants := tenantIDs(6)
	pairAll(t, s, tenants)
	msgs := harness.InboundMessages("in", tenants, 600)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan harness.InjectResult, 1)
	go func() { done <- s.Client.Inject(ctx, msgs, 16, 0) }()

	if err := harness.Poll(ctx, 5*time.Millisecond, func() (bool, error) {
		return s.Events.Messages() >= len(msgs)/4, nil
	}); err != nil {
		t.Fatal(err)
	}
	victim, owned := s.Busiest()
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s (tenants %v) after %d of %d messages were on the bus", victim.ID(), owned, s.Events.Messages(), len(msgs))
	res := <-done
	if len(res.Missing) > 0 {
		t.Fatalf("%d messages never accepted by the simulated server", len(res.Missing))
	}
	t.Logf("inbound requests repeated while the owner was dead: %d", res.Retries)
	exp := harness.Expect{Tenants: tenants, Inbound: res.Accepted}
	settle(t, s, exp, 60*time.Second)
	verify(t, s, exp)
}

// SIGTERM drains: the worker exits 0, owns no lease any more, and the
// others connect its tenants.
func TestProcessTerminatedWorkerReleases(t *testing.T) {
	t.Parallel()
	s := newProcessStack(t, 3)
	tenants := tenantIDs(12)
	pairAll(t, s, tenants)
	victim, owned := s.Busiest()
	termAt := time.Now()
	code, err := victim.Term(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("worker exited with status %d after SIGTERM, want 0", code)
	}
	t.Logf("%s drained %d tenants and exited in %s", victim.ID(), len(owned), time.Since(termAt).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if n, err := s.Client.Leases(ctx, victim.ID()); err != nil || n != 0 {
		t.Fatalf("after exit %s still owns %d leases (err %v), want 0", victim.ID(), n, err)
	}
	took, err := s.Observer.WaitTakeover(ctx, owned, termAt, victim.ID())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("takeover of %d tenants after SIGTERM: %s", len(owned), took.Round(time.Millisecond))
	settle(t, s, harness.Expect{Tenants: tenants}, 30*time.Second)
	verify(t, s, harness.Expect{Tenants: tenants})
}
