package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/testing/harness"
)

// scaleResult is one restore/memory measurement.
type scaleResult struct {
	name              string
	workers, tenants  int
	seeded            bool // devices seeded directly, not paired
	pairTime          time.Duration
	drain             time.Duration // SIGTERM of every worker → all exited
	restore           time.Duration // start of every worker → all tenants connected
	balanced          time.Duration // start → no worker beyond its fair share
	idleRSS, rss      []int64       // per worker: no tenants; after restore
	restoreCPU        time.Duration // summed over the workers, start → balanced
	nats              harness.Usage // nats-server, start → balanced (CPU) and after (RSS)
	maxConn, observed int           // verifier: most live connections of a tenant; tenants seen connected
	consumers         int           // consumers on the send stream once restored
	notes, problems   []string
}

func (s *scaleResult) problem(format string, args ...any) {
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

// perSession is the RSS a connected session costs, in bytes.
func (s scaleResult) perSession() float64 {
	var d int64
	for i := range s.rss {
		d += s.rss[i] - s.idleRSS[i]
	}
	return float64(d) / float64(s.tenants)
}

// scaleLeaseTTL is the workers' lease in the scale test: the contract's
// default, since a short lease under this much load only measures churn.
const scaleLeaseTTL = 15 * time.Second

// scale runs the two restore/memory measurements: 2,000 tenants paired
// through the control path on one worker, 10,000 seeded directly over four
// (pairing 10,000 through the control path on this machine overloads it;
// see docs/BENCHMARKS.md).
func (e *env) scale(ctx context.Context) []scaleResult {
	var out []scaleResult
	for _, c := range []struct {
		workers, tenants int
		seed             bool
	}{{1, 2000, false}, {4, 10000, true}} {
		if ctx.Err() != nil {
			break
		}
		r := scaleResult{name: fmt.Sprintf("%d tenants on %d worker(s)", c.tenants, c.workers), workers: c.workers, tenants: c.tenants, seeded: c.seed}
		if err := e.scaleRun(ctx, &r); err != nil {
			r.problem("%v", err)
		}
		progress("[scale] %s: %s", r.name, verdict(len(r.problems) == 0))
		out = append(out, r)
	}
	return out
}

func (e *env) scaleRun(ctx context.Context, r *scaleResult) error {
	name := fmt.Sprintf("scale-%dx%d", r.tenants, r.workers)
	s, done, err := e.stack(ctx, name, r.workers, scaleLeaseTTL)
	if err != nil {
		return err
	}
	defer done()
	for _, w := range s.Workers() {
		r.idleRSS = append(r.idleRSS, w.Usage().RSS)
	}
	tenants := tenantIDs(r.tenants)
	if err := r.prepare(ctx, e, s, name, tenants); err != nil {
		return err
	}
	n0 := e.natsM.Snapshot()
	err = r.restoreAll(ctx, s, tenants)
	r.nats = e.natsM.Snapshot().Sub(n0)
	r.notes = append(r.notes, warningNotes(s)...)
	return err
}

// prepare leaves every tenant paired and every worker stopped: paired
// through the control path and drained with SIGTERM, or seeded directly
// while the (idle) workers are stopped.
func (r *scaleResult) prepare(ctx context.Context, e *env, s *harness.Stack, name string, tenants []string) error {
	start := time.Now()
	if r.seeded {
		if err := r.stopAll(s); err != nil {
			return err
		}
		progress("[scale] seeding %d paired devices", len(tenants))
		start = time.Now()
		if err := seedDevices(ctx, s.Client.Pool, tenants); err != nil {
			return err
		}
		r.pairTime, r.drain = time.Since(start), 0
		return nil
	}
	if _, err := e.pair(ctx, name, s, tenants); err != nil {
		return err
	}
	r.pairTime = time.Since(start)
	anomalies := s.Client.Anomalies()
	for _, a := range first(anomalies, 3) {
		r.notes = append(r.notes, "anomaly (retried): "+a)
	}
	if len(anomalies) > 3 {
		r.notes = append(r.notes, fmt.Sprintf("%d anomalies in all", len(anomalies)))
	}
	return r.stopAll(s)
}

// stopAll terminates every worker at once and waits for them to exit 0.
func (r *scaleResult) stopAll(s *harness.Stack) error {
	progress("[scale] SIGTERM to %d workers", r.workers)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, w := range s.Workers() {
		wg.Go(func() {
			code, err := w.Term(2 * time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || code != 0 {
				r.problem("%s: exit %d after SIGTERM (%v)", w.ID(), code, err)
			}
		})
	}
	wg.Wait()
	r.drain = time.Since(start)
	return nil
}

// restoreAll starts every worker again and measures how long until all
// tenants are connected and the leases are balanced.
func (r *scaleResult) restoreAll(ctx context.Context, s *harness.Stack, tenants []string) error {
	progress("[scale] restoring %d tenants on %d workers", r.tenants, r.workers)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var cpu0 time.Duration
	for _, w := range s.Workers() {
		cpu0 += w.Usage().CPU
	}
	start := time.Now()
	for _, w := range s.Workers() {
		if err := w.Start(); err != nil {
			return err
		}
	}
	err := s.Client.WaitConnected(rctx, tenants)
	if err == nil {
		r.restore = time.Since(start)
		if err = s.WaitBalanced(rctx, tenants); err == nil {
			r.balanced = time.Since(start)
		}
	}
	for _, w := range s.Workers() { // at the end, restored or not
		u := w.Usage()
		r.rss = append(r.rss, u.RSS)
		r.restoreCPU += u.CPU
	}
	r.restoreCPU -= cpu0
	vctx, vcancel := context.WithTimeout(ctx, time.Minute)
	defer vcancel()
	if verr := r.verify(vctx, s, tenants); verr != nil && err == nil {
		err = verr
	}
	if n, cerr := sendConsumers(vctx, s); cerr == nil {
		r.consumers = n
		if n > bus.SendPartitions {
			r.problem("%d consumers on the send stream, want at most %d (one per partition)", n, bus.SendPartitions)
		}
	} else if err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func (r *scaleResult) verify(ctx context.Context, s *harness.Stack, tenants []string) error {
	rep, err := s.Verify(ctx, harness.Expect{Tenants: tenants})
	if err != nil {
		return err
	}
	r.maxConn = rep.MaxConcurrent
	r.observed = len(tenants) - len(rep.NotLiveOnce)
	r.problems = append(r.problems, rep.Problems...)
	return nil
}

// sendConsumers counts the consumers of the send stream.
func sendConsumers(ctx context.Context, s *harness.Stack) (int, error) {
	st, err := s.JS.Stream(ctx, s.Names.SendStream())
	if err != nil {
		return 0, fmt.Errorf("send stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("send stream info: %w", err)
	}
	return info.State.Consumers, nil
}

func writeScale(b *strings.Builder, rs []scaleResult) {
	b.WriteString("| scale test | tenants made | SIGTERM drain | restore (start → all connected) | balanced | restore CPU (workers) | RSS idle → restored (MiB, per worker) | RSS per session | nats-server CPU / RSS | WA_SEND consumers | max conn/tenant | result |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		var rss []string
		for i := range r.rss {
			rss = append(rss, fmt.Sprintf("%.0f → %.0f", mib(r.idleRSS[i]), mib(r.rss[i])))
		}
		per := "-"
		if len(r.rss) == r.workers {
			per = fmt.Sprintf("%.1f KiB", r.perSession()/1024)
		}
		how := "paired in " + dur(r.pairTime)
		if r.seeded {
			how = "seeded in " + dur(r.pairTime)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.1f s | %s | %s | %.1f s / %.0f MiB | %d | %d | %s |\n",
			r.name, how, dur(r.drain), dur(r.restore), dur(r.balanced), r.restoreCPU.Seconds(),
			strings.Join(rss, "; "), per, r.nats.CPU.Seconds(), mib(r.nats.RSS), r.consumers, r.maxConn, verdict(len(r.problems) == 0))
	}
	b.WriteString("\n")
	for _, r := range rs {
		for _, n := range r.notes {
			fmt.Fprintf(b, "- **%s**: %s\n", r.name, n)
		}
		for _, p := range r.problems {
			fmt.Fprintf(b, "- **%s** FAIL: %s\n", r.name, p)
		}
	}
	b.WriteString("\n")
}
