package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/testing/harness"
)

// result is one scenario's row.
type result struct {
	name     string
	report   harness.Report
	fault    faultResult
	tps      float64 // sent jobs a second, first publish to last sent event
	lat      []time.Duration
	stall    time.Duration // longest time one tenant had no outcome
	stallOf  string
	usage    []procUsage
	wall     time.Duration // load phase: first publish to settled
	pairRate float64       // tenants paired a second
	problems []string      // beyond the verifier's: fault checks, errors
}

// ok reports whether the scenario passed every check.
func (r result) ok() bool { return r.report.OK() && len(r.problems) == 0 }

// procUsage is one process's CPU and memory during a scenario's load.
type procUsage struct {
	name  string
	usage harness.Usage
}

// load is what a scenario puts on the deployment.
type load struct {
	s       *harness.Stack
	tenants []string
	jobs    []harness.Job
	inbound []harness.Inbound
	pub     *harness.Publisher

	wg        sync.WaitGroup
	pubErr    error
	injected  harness.InjectResult
	injectCap float64 // inbound requests a second (0: no limit)
}

// start publishes the jobs and injects the inbound messages in the
// background; wait waits for both.
func (l *load) start(ctx context.Context, rate float64) {
	l.wg.Go(func() { l.pubErr = l.pub.Publish(ctx, l.jobs, rate, 32) })
	l.wg.Go(func() {
		conc := 4
		if l.injectCap == 0 {
			conc = 64
		}
		l.injected = l.s.Client.Inject(ctx, l.inbound, conc, l.injectCap)
	})
}

func (l *load) wait() { l.wg.Wait() }

// scenario runs one scenario on a fresh deployment and returns its row;
// "none" at full speed adds a second row measured at half its throughput,
// where latency is not queueing behind the whole batch.
func (e *env) scenario(ctx context.Context, name string) []result {
	r := result{name: name}
	progress("[%s] starting %d workers", name, e.o.workers)
	s, done, err := e.stack(ctx, name, e.o.workers, e.o.leaseTTL)
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return []result{r}
	}
	defer done()
	tenants := tenantIDs(e.o.tenants)
	if r.pairRate, err = e.pair(ctx, name, s, tenants); err != nil {
		r.problems = append(r.problems, err.Error())
		return []result{r}
	}
	e.phase(ctx, &r, s, tenants, e.o.jobs, e.o.rate)
	out := []result{r}
	if name == "none" && e.o.rate == 0 && r.tps > 0 && r.ok() {
		rate := r.tps / 2
		paced := result{name: fmt.Sprintf("none, paced at %.0f/s", rate), pairRate: r.pairRate}
		e.phase(ctx, &paced, s, tenants, max(500, e.o.jobs/4), rate)
		out = append(out, paced)
	}
	return out
}

// phase puts one load (and the scenario's fault) on a paired deployment
// and fills r with what it measured.
func (e *env) phase(ctx context.Context, r *result, s *harness.Stack, tenants []string, jobs int, rate float64) {
	name := r.name
	key := idPart(name)
	l := &load{s: s, tenants: tenants, pub: harness.NewPublisher(s.JS, s.Names)}
	l.jobs = harness.TextJobs(key, tenants, jobs)
	l.inbound, l.injectCap = harness.InboundMessages(key, tenants, 2*len(tenants)), 20
	if name == "inbound-storm" {
		l.inbound, l.injectCap = harness.InboundMessages(key, tenants, e.o.storm), 0
	}
	if setupOf(name) != "" && rate == 0 {
		span := e.o.span
		if name == "rolling-restart" {
			span *= 2
		}
		rate = float64(len(l.jobs)) / span.Seconds()
	}
	e.resetPeaks(s)
	before := e.usage(s)
	start := time.Now()
	progress("[%s] load: %d jobs at %s, %d inbound messages", name, len(l.jobs), rateText(rate), len(l.inbound))
	l.start(ctx, rate)
	fault := faults[name]
	if fault == nil {
		fault = faults["none"]
	}
	r.fault = fault(ctx, e, l)
	l.wait()
	if l.pubErr != nil {
		r.problems = append(r.problems, l.pubErr.Error())
	}
	if n := len(l.injected.Missing); n > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d inbound messages never accepted by the simulator", n))
	}
	exp := harness.Expect{Tenants: tenants, Jobs: l.jobs, Inbound: l.injected.Accepted}
	if err := e.settle(ctx, name, s, exp); err != nil {
		r.problems = append(r.problems, err.Error())
		r.fault.notes = append(r.fault.notes, diagnose(ctx, l)...)
	}
	r.wall = time.Since(start)
	r.usage = usageDelta(before, e.usage(s))
	if err := e.measure(ctx, r, l, exp); err != nil {
		r.problems = append(r.problems, err.Error())
	}
}

// pair pairs the tenants and waits until the deployment is steady; it
// returns tenants paired a second.
func (e *env) pair(ctx context.Context, name string, s *harness.Stack, tenants []string) (float64, error) {
	progress("[%s] pairing %d tenants", name, len(tenants))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	start := time.Now()
	if err := tenant.CreateAll(ctx, s.Client.Pool, tenants); err != nil {
		return 0, err
	}
	if err := s.Client.Pair(pctx, tenants, 64); err != nil {
		return 0, err
	}
	if err := s.Client.WaitConnected(pctx, tenants); err != nil {
		return 0, fmt.Errorf("tenants never connected after pairing: %w", err)
	}
	rate := float64(len(tenants)) / time.Since(start).Seconds()
	if err := s.WaitBalanced(pctx, tenants); err != nil {
		return rate, fmt.Errorf("deployment never settled after pairing: %w", err)
	}
	return rate, nil
}

func (e *env) settle(ctx context.Context, name string, s *harness.Stack, exp harness.Expect) error {
	progress("[%s] waiting for every outcome, message and connection (up to %s)", name, e.o.settle)
	sctx, cancel := context.WithTimeout(ctx, e.o.settle)
	defer cancel()
	return s.WaitSettled(sctx, exp)
}

// measure runs the verifier and computes the figures of the row.
func (e *env) measure(ctx context.Context, r *result, l *load, exp harness.Expect) error {
	vctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := l.s.Verify(vctx, exp)
	if err != nil {
		return err
	}
	r.report = rep
	var last time.Time
	r.lat, last = harness.Latencies(l.pub, l.s.Events, l.jobs)
	if first, _ := l.pub.Span(); len(r.lat) > 0 && last.After(first) {
		r.tps = float64(len(r.lat)) / last.Sub(first).Seconds()
	}
	r.stall, r.stallOf = harness.LongestStall(l.s.Events, l.jobs)
	if !r.fault.at.IsZero() && r.fault.recovery == 0 {
		r.fault.recovery = resumedAfter(l, r.fault.at)
	}
	if d := l.s.Observer.Deliveries(); d.Repeated > 0 {
		r.fault.notes = append(r.fault.notes, fmt.Sprintf("%d jobs delivered twice under the same WhatsApp id", d.Repeated))
	}
	if l.injected.Retries > 0 {
		r.fault.notes = append(r.fault.notes, fmt.Sprintf("%d inbound requests repeated (%d got no reply at all)", l.injected.Retries, l.injected.Timeouts))
	}
	r.fault.notes = append(r.fault.notes, warningNotes(l.s)...)
	if n := l.s.Observer.Reconnects(); n > 0 {
		r.fault.notes = append(r.fault.notes, fmt.Sprintf("the observer reconnected %d times (notices published meanwhile are missing)", n))
	}
	if n := l.s.Observer.Unmatched(); n > 0 {
		r.fault.notes = append(r.fault.notes, fmt.Sprintf("%d disconnection notices named no live connection", n))
	}
	for _, a := range first(l.s.Client.Anomalies(), 3) {
		r.fault.notes = append(r.fault.notes, "anomaly (retried): "+a)
	}
	if n := l.pub.Retries(); n > 0 {
		r.fault.notes = append(r.fault.notes, fmt.Sprintf("%d publishes repeated", n))
	}
	return nil
}

// usage snapshots every process of the deployment.
func (e *env) usage(s *harness.Stack) []procUsage {
	var out []procUsage
	for _, w := range s.Workers() {
		out = append(out, procUsage{"worker " + w.ID(), w.Usage()})
	}
	for _, x := range e.servers {
		out = append(out, procUsage{x.name, x.m.Snapshot()})
	}
	return out
}

// resetPeaks starts a new peak RSS phase on every meter.
func (e *env) resetPeaks(s *harness.Stack) {
	for _, w := range s.Workers() {
		w.Meter().ResetPeak()
	}
	for _, x := range e.servers {
		x.m.ResetPeak()
	}
}

func usageDelta(before, after []procUsage) []procUsage {
	out := make([]procUsage, len(after))
	for i, a := range after {
		out[i] = a
		if i < len(before) && before[i].name == a.name {
			out[i].usage = a.usage.Sub(before[i].usage)
		}
	}
	return out
}

func tenantIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%05d", i)
	}
	return out
}

func rateText(rate float64) string {
	if rate == 0 {
		return "full speed"
	}
	return fmt.Sprintf("%.0f/s", rate)
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// warningNotes summarizes the workers' most frequent warnings.
func warningNotes(s *harness.Stack) []string {
	var paths []string
	for _, w := range s.Workers() {
		paths = append(paths, w.LogPath())
	}
	var out []string
	counts := harness.Warnings(paths...)
	for _, c := range counts[:min(3, len(counts))] {
		out = append(out, "worker log: "+c.String())
	}
	return out
}

// idPart turns a scenario name into a job and message id part: characters
// outside [A-Za-z0-9.-] become '-'.
func idPart(name string) string {
	b := []byte(name)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
		if !ok {
			b[i] = '-'
		}
	}
	return string(b)
}
