package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wabus/wabus/internal/testing/harness"
)

// run runs the selected scenarios (or the scale test), prints the report
// and returns the exit status: 0 when every check passed, 1 when one
// failed, 2 when the environment could not be set up.
func run(ctx context.Context, o options) int {
	e, err := setup(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wabus-load:", err)
		return 2
	}
	defer e.close()
	rep := &report{o: o, machine: describeMachine(ctx, e), started: time.Now()}
	rep.base = e.baselines(ctx)
	if o.scale {
		rep.scale = e.scale(ctx)
	} else {
		names, _ := o.selected()
		for _, name := range names {
			if ctx.Err() != nil {
				break
			}
			for _, r := range e.scenario(ctx, name) {
				progress("[%s] %s", r.name, verdict(r.ok()))
				rep.results = append(rep.results, r)
			}
		}
	}
	text := rep.markdown()
	fmt.Print(text)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "wabus-load:", err)
			return 2
		}
	}
	if !rep.ok() || ctx.Err() != nil {
		return 1
	}
	return 0
}

// report is everything one run measured.
type report struct {
	o       options
	machine []string
	started time.Time
	base    baselines
	results []result
	scale   []scaleResult
}

func (r *report) ok() bool {
	if r.base.err != nil {
		return false
	}
	for _, x := range r.results {
		if !x.ok() {
			return false
		}
	}
	for _, s := range r.scale {
		if len(s.problems) > 0 {
			return false
		}
	}
	return true
}

func verdict(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Run of %s\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "`go run ./cmd/wabus-load %s`\n\n", strings.Join(os.Args[1:], " "))
	for _, m := range r.machine {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	if !r.o.scale {
		fmt.Fprintf(&b, "- deployment: %d worker processes (WA_DRIVER=sim, WA_SEND_RATE=0, WA_LEASE_TTL=%s), %d tenants, %d jobs per scenario published at %s, inbound: 2 per tenant at 20/s (storm: %d at full speed)\n",
			r.o.workers, r.o.leaseTTL, r.o.tenants, r.o.jobs, rateText(r.o.rate), r.o.storm)
	}
	if setups := r.setups(); setups != "" {
		b.WriteString(setups)
	}
	b.WriteString("\n")
	r.writeBaselines(&b)
	if len(r.results) > 0 {
		r.writeScenarios(&b)
		r.writeNotes(&b)
		r.writeUsage(&b)
	}
	if len(r.scale) > 0 {
		writeScale(&b, r.scale)
	}
	return b.String()
}

func (r *report) writeBaselines(b *strings.Builder) {
	b.WriteString("| baseline (same run) | figure |\n|---|---:|\n")
	if r.base.err != nil {
		fmt.Fprintf(b, "| error | %v |\n\n", r.base.err)
		return
	}
	fmt.Fprintf(b, "| raw JetStream publish → consume → ack, %d msgs (file store) | %.0f msg/s |\n", r.base.jsMsgs, r.base.jsRate)
	fmt.Fprintf(b, "| raw Postgres single-row commits, %d connections | %.0f commits/s |\n\n", r.base.pgConns, r.base.pgCommits)
}

func (r *report) writeScenarios(b *strings.Builder) {
	b.WriteString("| scenario | jobs | sent | failed | lost | dup | max conn/tenant | inbound inj/seen | takeover | longest stall | jobs/s | p50 | p95 | p99 | result |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, x := range r.results {
		rp := x.report
		fmt.Fprintf(b, "| %s | %d | %d | %d | %d | %d | %d | %d/%d | %s | %s | %.0f | %s | %s | %s | %s |\n",
			x.name, rp.Jobs, rp.Sent, rp.Failed, rp.Lost, rp.Duplicated, rp.MaxConcurrent,
			rp.InboundInjected, rp.InboundSeen, takeoverText(x.fault), dur(x.stall), x.tps,
			dur(harness.Percentile(x.lat, .50)), dur(harness.Percentile(x.lat, .95)), dur(harness.Percentile(x.lat, .99)),
			verdict(x.ok()))
	}
	b.WriteString("\n")
}

func takeoverText(f faultResult) string {
	switch {
	case f.takeover > 0:
		return dur(f.takeover)
	case f.recovery > 0:
		return "(" + dur(f.recovery) + ")"
	default:
		return "-"
	}
}

func (r *report) writeNotes(b *strings.Builder) {
	b.WriteString("Notes per scenario (takeover in parentheses: time until sends resumed after the server came back):\n\n")
	for _, x := range r.results {
		notes := append([]string{fmt.Sprintf("paired at %.0f tenants/s; load phase %s", x.pairRate, x.wall.Round(time.Millisecond))}, x.fault.notes...)
		if x.stallOf != "" {
			notes = append(notes, fmt.Sprintf("longest stall on tenant %s", x.stallOf))
		}
		for _, p := range append(append(x.report.Problems, x.fault.problems...), x.problems...) {
			notes = append(notes, "**FAIL**: "+p)
		}
		for t, h := range x.report.Histories {
			notes = append(notes, fmt.Sprintf("notices of %s: %v", t, h))
		}
		fmt.Fprintf(b, "- **%s**: %s\n", x.name, strings.Join(notes, "; "))
	}
	b.WriteString("\n")
}

func (r *report) writeUsage(b *strings.Builder) {
	b.WriteString("| scenario | process | CPU s | CPU % of a core | peak RSS MiB |\n|---|---|---:|---:|---:|\n")
	for _, x := range r.results {
		for _, u := range x.usage {
			pct := 0.0
			if x.wall > 0 {
				pct = 100 * u.usage.CPU.Seconds() / x.wall.Seconds()
			}
			fmt.Fprintf(b, "| %s | %s | %.1f | %.0f | %.0f |\n", x.name, u.name, u.usage.CPU.Seconds(), pct, mib(u.usage.PeakRSS))
		}
	}
	b.WriteString("\n")
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// dur prints a duration with a precision that suits its size.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

// setups describes the cluster setups the run's scenarios used.
func (r *report) setups() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, x := range r.results {
		seen[setupOf(x.name)] = true
	}
	if seen[setupNATSCluster] {
		fmt.Fprintf(&b, "- %s: three nats-servers in one cluster on loopback, streams and buckets at R3 (WA_STREAM_REPLICAS=3), WA_NATS_URL listing all three; the load tool's own connections keep to n1, which the faults spare; jobs spread over %s (rolling-restart: %s); a killed node is started again after %s, a frozen one thawed after %s\n",
			setupNATSCluster, r.o.span, 2*r.o.span, r.o.natsDown, r.o.natsFreeze)
	}
	if seen[setupPGStandby] {
		fmt.Fprintf(&b, "- %s: a private primary and a standby made by pg_basebackup, synchronous streaming replication (synchronous_standby_names), WA_DATABASE_URL listing both with target_session_attrs=read-write; jobs spread over %s\n",
			setupPGStandby, r.o.span)
	}
	return b.String()
}
