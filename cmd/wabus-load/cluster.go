package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/testing/harness"
)

// The setups a scenario runs on besides the default one (one nats-server,
// one Postgres).
const (
	// setupNATSCluster: three nats-servers in one cluster, every stream and
	// bucket at three replicas (WA_STREAM_REPLICAS=3), the workers given
	// all three servers in WA_NATS_URL.
	setupNATSCluster = "nats-cluster"
	// setupPGStandby: a private Postgres primary and a standby made by
	// pg_basebackup, fed by synchronous streaming replication; the workers'
	// WA_DATABASE_URL lists both with target_session_attrs=read-write.
	setupPGStandby = "pg-standby"
)

// setupOf returns the setup scenario runs on, "" for the default one.
func setupOf(scenario string) string {
	switch scenario {
	case "nats-send-kill", "nats-events-kill", "nats-freeze", "rolling-restart":
		return setupNATSCluster
	case "pg-failover":
		return setupPGStandby
	}
	return ""
}

// startNATSCluster starts the nats-cluster setup unless it runs.
func (e *env) startNATSCluster() error {
	if e.natsCluster != nil {
		return nil
	}
	progress("starting a three-node nats-server cluster")
	c, err := harness.StartNATSCluster(filepath.Join(e.dir, "nats-cluster"), 3)
	if err != nil {
		return err
	}
	e.natsCluster = c
	for _, n := range c.Nodes {
		e.nodeM = append(e.nodeM, server{"nats-server " + n.Name(), harness.NewMeter(func() (harness.ProcSample, error) { return harness.ReadProc(n.PID()) }, 0)})
	}
	return nil
}

// clusterJS connects to a node of the cluster other than avoid, for the
// faults' own look-ups while avoid is down or frozen.
func (e *env) clusterJS(avoid string) (jetstream.JetStream, func(), error) {
	for _, n := range e.natsCluster.Nodes {
		if n.Name() == avoid || n.PID() == 0 {
			continue
		}
		nc, err := harness.Connect(n.URL(), "wabus-load fault")
		if err != nil {
			return nil, nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("jetstream: %w", err)
		}
		return js, nc.Close, nil
	}
	return nil, nil, fmt.Errorf("no running node besides %s", avoid)
}

// streams are the replicated streams a restarted node must catch up on.
func streams(l *load) []string {
	return []string{l.s.Names.SendStream(), l.s.Names.EventsStream(), l.s.Names.DLQStream()}
}

// leaderOff returns the node leading stream, having moved the leadership
// off the harness's own node first (the faults spare it, so that what they
// measure is the gateway's recovery, not the load tool's).
func (e *env) leaderOff(ctx context.Context, l *load, stream string) (*harness.NATSServer, error) {
	spare := e.natsCluster.Nodes[0].Name()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		leader, err := harness.WaitLeader(lctx, l.s.JS, stream, "")
		if err != nil {
			return nil, err
		}
		if leader != spare {
			if n := e.natsCluster.Node(leader); n != nil {
				return n, nil
			}
			return nil, fmt.Errorf("stream %s led by unknown server %q", stream, leader)
		}
		if _, err := l.s.NC.RequestWithContext(lctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, nil); err != nil {
			return nil, fmt.Errorf("step %s's leader down: %w", stream, err)
		}
		if _, err := harness.WaitLeader(lctx, l.s.JS, stream, spare); err != nil {
			return nil, err
		}
	}
}

// nodeKillFault: SIGKILL the node leading stream (label names it), wait
// for a new leader, start the node again with its store after -nats-down,
// and wait until its replicas have caught up.
func nodeKillFault(stream func(*load) string, label string) func(context.Context, *env, *load) faultResult {
	return func(ctx context.Context, e *env, l *load) faultResult {
		trigger(ctx, l)
		var f faultResult
		node, err := e.leaderOff(ctx, l, stream(l))
		if err != nil {
			f.problem("%v", err)
			return f
		}
		f.at = time.Now()
		node.Stop()
		js, done, err := e.clusterJS(node.Name())
		if err != nil {
			f.problem("%v", err)
			return f
		}
		defer done()
		f.newLeader(ctx, js, stream(l), label, node.Name())
		waitUntil(ctx, f.at.Add(e.o.natsDown))
		rejoin(ctx, &f, js, l, node, "SIGKILL")
		return f
	}
}

// newLeader waits until stream has a leader other than old and notes it.
func (f *faultResult) newLeader(ctx context.Context, js jetstream.JetStream, stream, label, old string) {
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	leader, err := harness.WaitLeader(lctx, js, stream, old)
	if err != nil {
		f.problem("%v", err)
		return
	}
	f.notes = append(f.notes, fmt.Sprintf("%s led by %s %s after the fault on %s", label, leader, time.Since(f.at).Round(time.Millisecond), old))
}

// rejoin starts node again and waits until every replica is current.
func rejoin(ctx context.Context, f *faultResult, js jetstream.JetStream, l *load, node *harness.NATSServer, how string) {
	back := time.Now()
	if err := node.Start(); err != nil {
		f.problem("restart %s: %v", node.Name(), err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := harness.WaitCurrent(wctx, js, streams(l)...); err != nil {
		f.problem("%s after its restart: %v", node.Name(), err)
		return
	}
	f.notes = append(f.notes, fmt.Sprintf("%s %s, started again after %s, replicas current %s later",
		how, node.Name(), back.Sub(f.at).Round(time.Millisecond), time.Since(back).Round(time.Millisecond)))
}

// freezeFault: SIGSTOP the node leading the send stream until the others
// have elected a new leader and -nats-freeze has passed (past the
// cluster's election and the clients' ping timeouts), then SIGCONT it and
// wait until it has caught up.
func freezeFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	var f faultResult
	node, err := e.leaderOff(ctx, l, l.s.Names.SendStream())
	if err != nil {
		f.problem("%v", err)
		return f
	}
	f.at = time.Now()
	if err := node.Freeze(); err != nil {
		f.problem("%v", err)
		return f
	}
	js, done, err := e.clusterJS(node.Name())
	if err != nil {
		_ = node.Thaw()
		f.problem("%v", err)
		return f
	}
	defer done()
	f.newLeader(ctx, js, l.s.Names.SendStream(), "WA_SEND", node.Name())
	waitUntil(ctx, f.at.Add(e.o.natsFreeze))
	if err := node.Thaw(); err != nil {
		f.problem("%v", err)
		return f
	}
	thawed := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := harness.WaitCurrent(wctx, js, streams(l)...); err != nil {
		f.problem("%s after SIGCONT: %v", node.Name(), err)
		return f
	}
	f.notes = append(f.notes, fmt.Sprintf("SIGSTOP %s for %s, replicas current %s after SIGCONT",
		node.Name(), thawed.Sub(f.at).Round(time.Millisecond), time.Since(thawed).Round(time.Millisecond)))
	return f
}

// rollingFault: restart each NATS node in turn (SIGTERM, start, wait until
// its replicas are current), then each worker in turn (SIGTERM, takeover,
// start, wait until the leases are spread again).
func rollingFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	f := faultResult{at: time.Now()}
	for _, node := range e.natsCluster.Nodes {
		js, done, err := e.clusterJS(node.Name())
		if err != nil {
			f.problem("%v", err)
			return f
		}
		at := time.Now()
		if err := node.Term(30 * time.Second); err != nil {
			f.problem("%v", err)
		}
		sub := faultResult{at: at}
		rejoin(ctx, &sub, js, l, node, "SIGTERM")
		done()
		f.notes, f.problems = append(f.notes, sub.notes...), append(f.problems, sub.problems...)
	}
	for _, w := range l.s.Workers() {
		bctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := l.s.WaitBalanced(bctx, l.tenants); err != nil {
			f.notes = append(f.notes, fmt.Sprintf("leases not spread before %s's restart: %v", w.ID(), err))
		}
		cancel()
		sub := termRestart(ctx, l, w)
		f.takeover = max(f.takeover, sub.takeover)
		f.notes, f.problems = append(f.notes, sub.notes...), append(f.problems, sub.problems...)
	}
	return f
}

// waitUntil sleeps until t or until ctx ends.
func waitUntil(ctx context.Context, t time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(t)):
	}
}

// resumedAfter returns how long after at the first job published after it
// had an outcome (by stream time), or 0 when none did. A job whose outcome
// precedes its recorded publish was stored by an earlier attempt whose
// acknowledgement the fault lost: it does not count.
func resumedAfter(l *load, at time.Time) time.Duration {
	var first time.Time
	for _, j := range l.jobs {
		pub, ok := l.pub.PublishedAt(j.Key())
		if !ok || pub.Before(at) {
			continue
		}
		o, ok := l.s.Events.Outcome(j.Key())
		if ok && o.At.After(pub) && (first.IsZero() || o.At.Before(first)) {
			first = o.At
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.Sub(at)
}
