package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wabus/wabus/internal/testing/harness"
)

// pgPair is the pg-standby setup of one scenario.
type pgPair struct {
	primary, standby *harness.Cluster
	meters           []server
	// syncRate and asyncRate are raw single-row commits a second on the
	// primary with the standby synchronous and asynchronous.
	syncRate, asyncRate float64
	lag                 *lagSampler
}

// startPair starts a primary and its synchronous standby for scenario
// name, measures what synchronous replication costs, creates the
// scenario's database and returns the workers' multi-host URL to it and a
// function that removes the pair.
func (e *env) startPair(ctx context.Context, name string) (_ string, _ func(), err error) {
	progress("[%s] starting a Postgres primary and a standby (pg_basebackup, synchronous streaming replication)", name)
	p := &pgPair{}
	drop := func() {
		if p.lag != nil {
			p.lag.stop()
		}
		for _, m := range p.meters {
			m.m.Close()
		}
		for _, c := range []*harness.Cluster{p.standby, p.primary} {
			if c != nil && !e.o.keep {
				_ = c.Close()
			} else if c != nil {
				_ = c.Stop()
				progress("kept the Postgres cluster in %s", c.Dir())
			}
		}
		e.pgPair = nil
	}
	defer func() {
		if err != nil {
			drop()
		}
	}()
	if p.primary, err = harness.StartCluster(harness.ClusterConfig{Fsync: e.o.fsync}); err != nil {
		return "", nil, err
	}
	if p.standby, err = p.primary.StartStandby("", true); err != nil {
		return "", nil, err
	}
	if err := p.rates(ctx); err != nil {
		return "", nil, err
	}
	db := "wabus_load_" + sanitize(name)
	if _, err := harness.CreateDatabase(ctx, p.primary.URL(), db); err != nil {
		return "", nil, err
	}
	for _, c := range []struct {
		name string
		c    *harness.Cluster
	}{{"postgres primary (PSS)", p.primary}, {"postgres standby (PSS)", p.standby}} {
		m := harness.NewMeter(func() (harness.ProcSample, error) { return harness.ReadProcTree(c.c.PID()) }, 500*time.Millisecond)
		p.meters = append(p.meters, server{c.name, m})
	}
	if p.lag, err = sampleLag(ctx, p.primary); err != nil {
		return "", nil, err
	}
	e.pgPair = p
	e.servers = append(e.servers, p.meters...)
	return harness.MultiHostURL(db, p.primary, p.standby), drop, nil
}

// rates measures raw commits a second on the primary with the standby
// synchronous, then asynchronous, and leaves it synchronous.
func (p *pgPair) rates(ctx context.Context) error {
	url, err := harness.CreateDatabase(ctx, p.primary.URL(), "wabus_load_rates")
	if err != nil {
		return err
	}
	if p.syncRate, err = harness.BaselinePostgres(ctx, url, 8, 3*time.Second); err != nil {
		return err
	}
	if err := p.primary.SetSynchronous(ctx, false); err != nil {
		return err
	}
	if p.asyncRate, err = harness.BaselinePostgres(ctx, url, 8, 3*time.Second); err != nil {
		return err
	}
	return p.primary.SetSynchronous(ctx, true)
}

// lagSampler reads the standby's lag and the primary's commit count every
// 100ms until stopped or the primary is gone.
type lagSampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu               sync.Mutex
	samples          int
	maxBytes         int64
	maxFlush         time.Duration
	commits0, commit int64
	t0, t            time.Time
}

func sampleLag(ctx context.Context, primary *harness.Cluster) (*lagSampler, error) {
	conn, err := pgx.Connect(ctx, primary.URL())
	if err != nil {
		return nil, fmt.Errorf("connect the primary: %w", err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &lagSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if !s.sample(sctx, primary, conn) {
				return
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s, nil
}

func (s *lagSampler) sample(ctx context.Context, primary *harness.Cluster, conn *pgx.Conn) bool {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	lag, err := primary.ReplicationLag(qctx, conn)
	if err != nil {
		return false
	}
	var commits int64
	if err := conn.QueryRow(qctx, `SELECT sum(xact_commit)::bigint FROM pg_stat_database`).Scan(&commits); err != nil {
		return false
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.samples == 0 {
		s.commits0, s.t0 = commits, now
	}
	s.samples++
	s.maxBytes, s.maxFlush = max(s.maxBytes, lag.Bytes), max(s.maxFlush, lag.Flush)
	s.commit, s.t = commits, now
	return true
}

// stop ends the sampling and waits for it.
func (s *lagSampler) stop() {
	s.cancel()
	<-s.done
}

// wait waits up to within for the sampling to end by itself (the primary
// is gone).
func (s *lagSampler) wait(within time.Duration) {
	select {
	case <-s.done:
	case <-time.After(within):
		s.stop()
	}
}

// notes says what the samples show an asynchronous standby would risk.
func (s *lagSampler) notes(p *pgPair) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := 0.0
	if d := s.t.Sub(s.t0).Seconds(); d > 0 {
		rate = float64(s.commit-s.commits0) / d
	}
	window := float64(s.maxFlush.Seconds()) * rate
	return []string{
		fmt.Sprintf("raw commits/s on the primary: %.0f with the standby synchronous, %.0f asynchronous", p.syncRate, p.asyncRate),
		fmt.Sprintf("until the crash (%d samples): %.0f commits/s, the standby's flush lag peaked at %s and %.1f KiB of WAL; asynchronous, the commits of that window (about %.0f) could be acknowledged and lost",
			s.samples, rate, s.maxFlush.Round(10*time.Microsecond), float64(s.maxBytes)/1024, window),
	}
}

// pgFailoverFault: SIGKILL the primary (postmaster and backends at once),
// promote the standby at once, as automated failover does.
func pgFailoverFault(ctx context.Context, e *env, l *load) faultResult {
	trigger(ctx, l)
	var f faultResult
	p := e.pgPair
	if p == nil {
		f.problem("pg-failover runs without its pg-standby setup")
		return f
	}
	f.at = time.Now()
	if err := p.primary.Kill(); err != nil {
		f.problem("%v", err)
		return f
	}
	p.lag.wait(5 * time.Second)
	if err := p.standby.Promote(); err != nil {
		f.problem("promote the standby: %v", err)
		return f
	}
	f.notes = append(f.notes, fmt.Sprintf("SIGKILL the primary; standby promoted %s later", time.Since(f.at).Round(time.Millisecond)))
	f.notes = append(f.notes, p.lag.notes(p)...)
	return f
}
