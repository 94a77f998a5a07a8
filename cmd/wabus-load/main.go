// Command wabus-load runs wabus workers as processes (simulator driver)
// against a private nats-server and Postgres (or, for the cluster
// scenarios, a three-node NATS cluster with R3 streams, or a Postgres
// primary with a synchronous standby), pairs tenants, publishes send
// jobs and injects inbound messages while it kills, terminates, freezes or
// cuts off parts of the deployment, then verifies that nothing was lost,
// duplicated or connected twice. It prints one table row per scenario and
// exits non-zero when any check fails. See docs/BENCHMARKS.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// scenarios in the order "all" runs them.
var scenarios = []string{"none", "kill", "term", "nats-restart", "pg-restart", "stop-cont", "inbound-storm", "ingest-kill",
	"nats-send-kill", "nats-events-kill", "nats-freeze", "pg-failover", "rolling-restart"}

// shortSet is what -short runs of "all": one NATS-node kill and the
// Postgres failover of the cluster setups, at small size.
var shortSet = []string{"none", "kill", "term", "nats-restart", "pg-restart", "stop-cont", "inbound-storm", "ingest-kill",
	"nats-send-kill", "pg-failover"}

// options are the command's flags.
type options struct {
	workers, tenants, jobs, storm int
	rate                          float64
	scenario                      string
	short, scale, keep, fsync     bool
	out, databaseURL, logLevel    string
	leaseTTL, settle, pgDown      time.Duration
	// span is how long the cluster setups' scenarios spread their jobs
	// over (unless -rate), so that jobs flow before, during and after the
	// fault; natsDown and natsFreeze are how long a node stays killed or
	// frozen.
	span, natsDown, natsFreeze time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("wabus-load", flag.ContinueOnError)
	fs.IntVar(&o.workers, "workers", 3, "worker processes")
	fs.IntVar(&o.tenants, "tenants", 60, "paired tenants")
	fs.IntVar(&o.jobs, "jobs", 20000, "send jobs per scenario")
	fs.IntVar(&o.storm, "storm", 3000, "inbound messages of the inbound-storm scenario")
	fs.Float64Var(&o.rate, "rate", 0, "publish rate in jobs a second (0: as fast as possible)")
	fs.StringVar(&o.scenario, "scenario", "all", "a scenario ("+strings.Join(scenarios, "|")+") or all (comma-separated list allowed)")
	fs.BoolVar(&o.short, "short", false, "the CI set: 3 workers, 12 tenants, 2,000 jobs over 10s in the cluster scenarios, storm of 600, nodes down 3s; every scenario but nats-events-kill, nats-freeze and rolling-restart")
	fs.BoolVar(&o.scale, "scale", false, "run the restore/memory scale test (2,000 tenants on one worker, 10,000 over four) instead of the scenarios")
	fs.StringVar(&o.out, "out", "", "also write the report as markdown to this file")
	fs.StringVar(&o.databaseURL, "database-url", "", "use this Postgres server (a fresh database per scenario) instead of a private cluster; pg-restart is then skipped")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", 5*time.Second, "the workers' WA_LEASE_TTL")
	fs.DurationVar(&o.settle, "settle", 3*time.Minute, "how long a scenario may take to settle after its fault")
	fs.DurationVar(&o.pgDown, "pg-down", 0, "how long pg-restart keeps Postgres down (0: stop and start at once)")
	fs.DurationVar(&o.span, "span", 30*time.Second, "how long the cluster scenarios (nats-*, pg-failover; rolling-restart twice as long) spread their jobs over, unless -rate is given")
	fs.DurationVar(&o.natsDown, "nats-down", 10*time.Second, "how long nats-send-kill and nats-events-kill keep the node down")
	fs.DurationVar(&o.natsFreeze, "nats-freeze", 20*time.Second, "how long nats-freeze keeps the node stopped (past the election and ping timeouts)")
	fs.BoolVar(&o.fsync, "fsync", true, "run the private Postgres cluster with fsync on")
	fs.StringVar(&o.logLevel, "log-level", "info", "the workers' WA_LOG_LEVEL (their logs are in the work directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, stores) instead of removing it")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		shortDefaults(&o, set)
	}
	return o, o.validate()
}

// shortDefaults applies -short to the flags not given explicitly.
func shortDefaults(o *options, set map[string]bool) {
	if !set["tenants"] {
		o.tenants = 12
	}
	if !set["jobs"] {
		o.jobs = 2000
	}
	if !set["storm"] {
		o.storm = 600
	}
	if !set["span"] {
		o.span = 10 * time.Second
	}
	if !set["nats-down"] {
		o.natsDown = 3 * time.Second
	}
}

func (o options) validate() error {
	if o.workers < 2 {
		return fmt.Errorf("-workers must be at least 2 (a fault needs a survivor)")
	}
	if o.tenants < 1 || o.jobs < 0 || o.storm < 0 || o.rate < 0 {
		return fmt.Errorf("-tenants must be positive; -jobs, -storm and -rate not negative")
	}
	_, err := o.selected()
	return err
}

// selected returns the scenarios to run.
func (o options) selected() ([]string, error) {
	if o.scenario == "all" && o.short {
		return shortSet, nil
	}
	if o.scenario == "all" {
		return scenarios, nil
	}
	var out []string
	for name := range strings.SplitSeq(o.scenario, ",") {
		if !contains(scenarios, name) {
			return nil, fmt.Errorf("unknown scenario %q (want one of %s or all)", name, strings.Join(scenarios, ", "))
		}
		out = append(out, name)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "wabus-load:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}
