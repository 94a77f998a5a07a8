package main

import (
	"context"
	"fmt"
	"time"

	"github.com/wabus/wabus/internal/ingest"
	"github.com/wabus/wabus/internal/testing/harness"
)

// faultResult is what a fault reports.
type faultResult struct {
	// victim is the worker the fault hit, "" for a server fault.
	victim string
	// takeover is how long after the fault the victim's tenants were all
	// connected elsewhere (victim faults only).
	takeover time.Duration
	// recovery is how long after a server came back sends resumed
	// (server faults only).
	recovery time.Duration
	// at is when a fault of the cluster setups struck; recovery is then
	// measured from it to the first outcome of a job published after it.
	at       time.Time
	notes    []string
	problems []string
}

func (f *faultResult) problem(format string, args ...any) {
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
}

// faults maps each scenario to its fault, injected during the load.
var faults = map[string]func(context.Context, *env, *load) faultResult{
	"none":          func(context.Context, *env, *load) faultResult { return faultResult{} },
	"kill":          killFault,
	"term":          termFault,
	"nats-restart":  natsFault,
	"pg-restart":    pgFault,
	"stop-cont":     stopFault,
	"inbound-storm": stormFault,
	"ingest-kill":   ingestKillFault,

	"nats-send-kill":   nodeKillFault(func(l *load) string { return l.s.Names.SendStream() }, "WA_SEND"),
	"nats-events-kill": nodeKillFault(func(l *load) string { return l.s.Names.EventsStream() }, "WA_EVENTS"),
	"nats-freeze":      freezeFault,
	"pg-failover":      pgFailoverFault,
	"rolling-restart":  rollingFault,
}

// trigger waits until 30% of the jobs have an outcome (the load is in full
// swing) or ctx ends.
func trigger(ctx context.Context, l *load) {
	_ = harness.Poll(ctx, 5*time.Millisecond, func() (bool, error) {
		return l.s.Events.Outcomes() >= len(l.jobs)*3/10, nil
	})
}

// takeover waits until the victim's tenants are connected elsewhere.
func takeover(ctx context.Context, f *faultResult, l *load, owned []string, since time.Time) {
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	took, err := l.s.Observer.WaitTakeover(tctx, owned, since, f.victim)
	if err != nil {
		f.problem("%v", err)
		return
	}
	f.takeover = took
}

// restart starts the victim again and waits until it has registered.
func restart(ctx context.Context, f *faultResult, l *load, w *harness.Worker) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := w.Start(); err != nil {
		f.problem("restart %s: %v", w.ID(), err)
		return
	}
	if err := w.WaitReady(rctx, l.s.Pool); err != nil {
		f.problem("restart %s: %v", w.ID(), err)
	}
}

// killFault: SIGKILL the busiest worker, wait for the takeover, restart it.
func killFault(ctx context.Context, _ *env, l *load) faultResult {
	trigger(ctx, l)
	return killAndRestart(ctx, l)
}

func killAndRestart(ctx context.Context, l *load) faultResult {
	w, owned := l.s.Busiest()
	f := faultResult{victim: w.ID()}
	at := time.Now()
	if err := w.Kill(); err != nil {
		f.problem("kill: %v", err)
		return f
	}
	f.notes = append(f.notes, fmt.Sprintf("SIGKILL %s holding %d tenants", w.ID(), len(owned)))
	takeover(ctx, &f, l, owned, at)
	restart(ctx, &f, l, w)
	return f
}

// termFault: SIGTERM the busiest worker; it must exit 0 with no lease left.
func termFault(ctx context.Context, _ *env, l *load) faultResult {
	trigger(ctx, l)
	w, _ := l.s.Busiest()
	return termRestart(ctx, l, w)
}

// termRestart sends SIGTERM to w, checks that it exits 0 with no lease
// left, waits for the takeover and restarts it.
func termRestart(ctx context.Context, l *load, w *harness.Worker) faultResult {
	owned := l.s.Observer.LiveTenants(w.ID())
	f := faultResult{victim: w.ID()}
	at := time.Now()
	code, err := w.Term(time.Minute)
	switch {
	case err != nil:
		f.problem("SIGTERM: %v", err)
	case code != 0:
		f.problem("%s exited with status %d after SIGTERM, want 0", w.ID(), code)
	}
	f.notes = append(f.notes, fmt.Sprintf("SIGTERM %s holding %d tenants: exited %d after %s", w.ID(), len(owned), code, time.Since(at).Round(time.Millisecond)))
	if n, err := l.s.Client.Leases(ctx, w.ID()); err != nil || n > 0 {
		f.problem("%s still owns %d leases after exiting (err %v)", w.ID(), n, err)
	}
	takeover(ctx, &f, l, owned, at)
	restart(ctx, &f, l, w)
	return f
}

// natsFault: kill and restart nats-server on the same port and store.
func natsFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	return outage(ctx, l, "nats-server", func() error {
		if err := e.nats.Restart(); err != nil {
			return fmt.Errorf("restart nats-server: %w", err)
		}
		return nil
	})
}

// pgFault: crash (pg_ctl -m immediate) and restart the Postgres cluster.
func pgFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	if e.cluster == nil {
		return faultResult{notes: []string{"skipped: -database-url given, the server is not ours to restart"}}
	}
	return outage(ctx, l, "postgres", func() error {
		if err := e.cluster.Stop(); err != nil {
			return fmt.Errorf("stop postgres: %w", err)
		}
		time.Sleep(e.o.pgDown)
		if err := e.cluster.Start(); err != nil {
			return fmt.Errorf("start postgres: %w", err)
		}
		return nil
	})
}

// outage takes server down and brings it back with bounce, notes how long
// it was down, and measures how long sends took to resume.
func outage(ctx context.Context, l *load, server string, bounce func() error) faultResult {
	var f faultResult
	at := time.Now()
	if err := bounce(); err != nil {
		f.problem("%v", err)
		return f
	}
	f.notes = append(f.notes, fmt.Sprintf("%s down for %s", server, time.Since(at).Round(time.Millisecond)))
	f.recovery = resumed(ctx, &f, l)
	return f
}

// resumed waits until the next outcome event after a server came back and
// returns how long that took.
func resumed(ctx context.Context, f *faultResult, l *load) time.Duration {
	back, seen := time.Now(), l.s.Events.Outcomes()
	if seen >= len(l.jobs) {
		return 0
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := harness.Poll(rctx, 5*time.Millisecond, func() (bool, error) {
		return l.s.Events.Outcomes() > seen, nil
	}); err != nil {
		f.problem("sends did not resume: %v", err)
	}
	return time.Since(back)
}

// stopFault: SIGSTOP the busiest worker until the others have its tenants
// and its lease TTL has passed, then SIGCONT it.
func stopFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	w, owned := l.s.Busiest()
	f := faultResult{victim: w.ID()}
	at := time.Now()
	if err := w.Stop(); err != nil {
		f.problem("SIGSTOP: %v", err)
		return f
	}
	takeover(ctx, &f, l, owned, at)
	if d := e.o.leaseTTL + time.Second - time.Since(at); d > 0 {
		time.Sleep(d) // frozen past its lease, whatever the takeover took
	}
	if err := w.Cont(); err != nil {
		f.problem("SIGCONT: %v", err)
	}
	f.notes = append(f.notes, fmt.Sprintf("SIGSTOP %s holding %d tenants for %s", w.ID(), len(owned), time.Since(at).Round(time.Millisecond)))
	return f
}

// stormFault: SIGKILL the busiest worker while inbound messages pour in.
func stormFault(ctx context.Context, _ *env, l *load) faultResult {
	_ = harness.Poll(ctx, 5*time.Millisecond, func() (bool, error) {
		return l.s.Events.Messages() >= len(l.inbound)*3/10, nil
	})
	return killAndRestart(ctx, l)
}

// ingestKillFault: SIGKILL the worker reading the most partitions of the
// send stream at a moment one of its ingest consumers has a batch fetched
// and not acknowledged (in the middle of a batch), wait for the takeover,
// restart it.
func ingestKillFault(ctx context.Context, _ *env, l *load) faultResult {
	trigger(ctx, l)
	var f faultResult
	parts, err := l.s.Client.IngestPartitions(ctx)
	if err != nil {
		f.problem("%v", err)
		return f
	}
	var w *harness.Worker
	for _, x := range l.s.Workers() {
		if x.Running() && (w == nil || len(parts[x.ID()]) > len(parts[w.ID()])) {
			w = x
		}
	}
	if w == nil || len(parts[w.ID()]) == 0 {
		f.problem("no worker reads a partition of the send stream")
		return f
	}
	f.victim = w.ID()
	part, pending := midBatch(ctx, l, parts[w.ID()])
	owned := l.s.Observer.LiveTenants(w.ID())
	at := time.Now()
	if err := w.Kill(); err != nil {
		f.problem("kill: %v", err)
		return f
	}
	if pending > 0 {
		f.notes = append(f.notes, fmt.Sprintf("SIGKILL %s reading partitions %v, partition %d with %d jobs fetched and not acknowledged", w.ID(), parts[w.ID()], part, pending))
	} else {
		f.notes = append(f.notes, fmt.Sprintf("SIGKILL %s reading partitions %v (no batch caught in flight)", w.ID(), parts[w.ID()]))
	}
	takeover(ctx, &f, l, owned, at)
	restart(ctx, &f, l, w)
	return f
}

// midBatch waits (up to 10s) until one of parts' ingest consumers has jobs
// delivered and not acknowledged, and returns it and how many.
func midBatch(ctx context.Context, l *load, parts []int) (part, pending int) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = harness.Poll(pctx, time.Millisecond, func() (bool, error) {
		for _, p := range parts {
			c, err := l.s.JS.Consumer(pctx, l.s.Names.SendStream(), ingest.ConsumerName(p))
			if err != nil {
				continue
			}
			if info, err := c.Info(pctx); err == nil && info.NumAckPending > 0 {
				part, pending = p, info.NumAckPending
				return true, nil
			}
		}
		return false, nil
	})
	return part, pending
}
