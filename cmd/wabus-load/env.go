package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/testing/harness"
)

// env is what every scenario shares: the binaries, the nats-server, the
// Postgres server, and the meters on the two servers.
type env struct {
	o        options
	dir      string
	bins     *harness.Binaries
	nats     *harness.NATSServer
	cluster  *harness.Cluster // nil with -database-url
	adminURL string
	natsM    *harness.Meter
	pgM      *harness.Meter // nil with -database-url

	// natsCluster is the nats-cluster setup, started by the first scenario
	// that runs on it; nodeM meters its nodes.
	natsCluster *harness.NATSCluster
	nodeM       []server
	// pgPair is the pg-standby setup of the scenario running on it (each
	// gets its own: a failover uses it up).
	pgPair *pgPair
	// servers are the current scenario's server processes, metered.
	servers []server
}

// server is a metered server process.
type server struct {
	name string
	m    *harness.Meter
}

// setup builds the binaries and starts the servers. It returns an error
// when any of them fails; what was started is stopped again.
func setup(ctx context.Context, o options) (_ *env, err error) {
	dir, err := os.MkdirTemp("", "wabus-load-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	e := &env{o: o, dir: dir, adminURL: o.databaseURL}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	progress("building binaries into %s", filepath.Join(dir, "bin"))
	if e.bins, err = harness.Build(ctx, filepath.Join(dir, "bin")); err != nil {
		return nil, err
	}
	if e.nats, err = harness.StartNATS(filepath.Join(dir, "nats")); err != nil {
		return nil, err
	}
	e.natsM = harness.NewMeter(func() (harness.ProcSample, error) { return harness.ReadProc(e.nats.PID()) }, 0)
	if e.adminURL == "" {
		c, err := harness.StartCluster(harness.ClusterConfig{Fsync: o.fsync})
		if err != nil {
			return nil, err
		}
		e.cluster, e.adminURL = c, c.URL()
		e.pgM = harness.NewMeter(func() (harness.ProcSample, error) { return harness.ReadProcTree(c.PID()) }, 500*time.Millisecond)
	}
	return e, nil
}

// close stops the servers and removes the work directory unless -keep.
func (e *env) close() {
	if e.natsM != nil {
		e.natsM.Close()
	}
	for _, n := range e.nodeM {
		n.m.Close()
	}
	if e.natsCluster != nil {
		e.natsCluster.Stop()
	}
	if e.pgM != nil {
		e.pgM.Close()
	}
	if e.nats != nil {
		e.nats.Stop()
	}
	if e.cluster != nil && !e.o.keep {
		_ = e.cluster.Close()
	} else if e.cluster != nil {
		_ = e.cluster.Stop()
	}
	if e.o.keep {
		progress("kept the work directory %s", e.dir)
		if e.cluster != nil {
			progress("kept the Postgres cluster in %s", e.cluster.Dir())
		}
		return
	}
	_ = os.RemoveAll(e.dir)
}

// baselines are the raw figures of the two servers in the same run.
type baselines struct {
	jsMsgs    int
	jsRate    float64 // messages a second, publish → consume → ack
	pgConns   int
	pgCommits float64 // single-row commits a second
	err       error
}

func (e *env) baselines(ctx context.Context) baselines {
	b := baselines{jsMsgs: 50000, pgConns: 8}
	progress("baseline: raw JetStream publish → consume → ack of %d messages", b.jsMsgs)
	nc, err := harness.Connect(e.nats.URL(), "wabus-load baseline")
	if err != nil {
		b.err = err
		return b
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.err = err
		return b
	}
	if b.jsRate, err = harness.BaselineJetStream(ctx, js, "bench", b.jsMsgs); err != nil {
		b.err = err
		return b
	}
	progress("baseline: raw Postgres single-row commits from %d connections", b.pgConns)
	url, drop, err := e.database(ctx, "baseline")
	if err != nil {
		b.err = err
		return b
	}
	defer drop()
	b.pgCommits, b.err = harness.BaselinePostgres(ctx, url, b.pgConns, 5*time.Second)
	return b
}

// database creates a fresh database for one run and returns its URL and
// a function that drops it.
func (e *env) database(ctx context.Context, name string) (string, func(), error) {
	db := "wabus_load_" + sanitize(name) + "_" + harness.RandomHex(3)
	url, err := harness.CreateDatabase(ctx, e.adminURL, db)
	if err != nil {
		return "", nil, err
	}
	return url, func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := harness.DropDatabase(dctx, e.adminURL, db); err != nil {
			progress("drop %s: %v", db, err)
		}
	}, nil
}

// stack starts a deployment of n workers with lease ttl on a fresh database,
// on the setup the scenario runs on.
func (e *env) stack(ctx context.Context, name string, n int, ttl time.Duration) (*harness.Stack, func(), error) {
	cfg := harness.StackConfig{
		WorkerBinary: e.bins.Worker, NATSURL: e.nats.URL(),
		LogDir: filepath.Join(e.dir, "logs", name), Workers: n, LeaseTTL: ttl, LogLevel: e.o.logLevel,
	}
	e.servers = []server{{"nats-server", e.natsM}}
	var drop func()
	var err error
	switch setupOf(name) {
	case setupNATSCluster:
		if err := e.startNATSCluster(); err != nil {
			return nil, nil, err
		}
		// The harness keeps to the first node, which the faults spare.
		cfg.NATSURL, cfg.WorkerNATSURL, cfg.Replicas = e.natsCluster.Nodes[0].URL(), e.natsCluster.URL(), 3
		e.servers = slices.Clone(e.nodeM)
	case setupPGStandby:
		if cfg.DatabaseURL, drop, err = e.startPair(ctx, name); err != nil {
			return nil, nil, err
		}
	}
	if e.pgM != nil && setupOf(name) != setupPGStandby {
		e.servers = append(e.servers, server{"postgres (all processes, PSS)", e.pgM})
	}
	if cfg.DatabaseURL == "" {
		if cfg.DatabaseURL, drop, err = e.database(ctx, name); err != nil {
			return nil, nil, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := harness.NewStack(sctx, cfg)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { s.Close(); drop() }, nil
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// progress reports what the tool is doing, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
