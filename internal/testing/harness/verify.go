package harness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Expect is what a scenario did, and so what it expects to find.
type Expect struct {
	// Jobs are the published jobs.
	Jobs []Job
	// Tenants are the paired tenants.
	Tenants []string
	// Inbound are the inbound messages the simulator accepted.
	Inbound []Inbound
}

// Report is the verifier's finding after a scenario.
type Report struct {
	Jobs   int
	Sent   int
	Failed int
	// FailedCodes counts failed jobs by code.
	FailedCodes map[string]int
	// Lost are published jobs without any outcome event.
	Lost int
	// Multiple are jobs with more than one distinct outcome event;
	// Both are those among them with a sent and a failed event.
	Multiple, Both int
	// Duplicated are jobs that reached simulated WhatsApp under two or more
	// WhatsApp ids (a recipient would see two messages).
	Duplicated int
	// Repeated are jobs delivered twice under the same id (harmless).
	Repeated int
	// MaxConcurrent is the most live connections one tenant had at once.
	MaxConcurrent int
	Violations    []Violation
	// InboundInjected and InboundSeen count accepted inbound messages and
	// those among them that arrived as message events.
	InboundInjected, InboundSeen int
	// NotConnected are paired tenants whose recorded state is not
	// connected; NotLiveOnce those without exactly one live connection.
	NotConnected, NotLiveOnce []string
	// Histories holds the connection notices of a few tenants that failed
	// a connection check, for diagnosis.
	Histories map[string][]ConnEvent
	// Problems lists every failed check; empty means the scenario passed.
	Problems []string
}

// OK reports whether every check passed.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the guarantees after a scenario: every published job has
// exactly one outcome event and none has both; no job reached simulated
// WhatsApp under two ids; every paired tenant is recorded as connected and
// has exactly one live connection; no tenant ever had two live connections
// at once; every accepted inbound message arrived as a message event. It
// returns an error only when Postgres cannot be read.
func Verify(ctx context.Context, c *Client, o *Observer, e *Events, exp Expect) (Report, error) {
	r := Report{Jobs: len(exp.Jobs), FailedCodes: map[string]int{}, InboundInjected: len(exp.Inbound)}
	r.checkOutcomes(e, exp.Jobs)
	d := o.Deliveries()
	r.Duplicated, r.Repeated = len(d.MultiID), d.Repeated
	if r.Duplicated > 0 {
		r.problem("%d jobs delivered under two or more WhatsApp ids (e.g. %v)", r.Duplicated, d.MultiID[0])
	}
	r.MaxConcurrent, r.Violations = o.MaxConcurrent(), o.Violations()
	if len(r.Violations) > 0 {
		r.problem("%d moments with two live connections of one tenant (first: %s)", len(r.Violations), r.Violations[0])
	}
	for _, m := range exp.Inbound {
		if e.Seen(m.Tenant, m.ID) {
			r.InboundSeen++
		}
	}
	if r.InboundSeen < r.InboundInjected {
		r.problem("%d of %d accepted inbound messages never arrived as events", r.InboundInjected-r.InboundSeen, r.InboundInjected)
	}
	var err error
	if r.NotConnected, err = c.NotConnected(ctx, exp.Tenants); err != nil {
		return r, err
	}
	if len(r.NotConnected) > 0 {
		r.problem("%d tenants not connected at the end (e.g. %s)", len(r.NotConnected), r.NotConnected[0])
	}
	r.Histories = map[string][]ConnEvent{}
	for _, t := range exp.Tenants {
		if n := len(o.Live(t)); n != 1 {
			r.NotLiveOnce = append(r.NotLiveOnce, fmt.Sprintf("%s:%d", t, n))
			if len(r.Histories) < 3 {
				r.Histories[t] = o.History(t)
			}
		}
	}
	if len(r.NotLiveOnce) > 0 {
		r.problem("%d tenants without exactly one live connection at the end (tenant:count %s)",
			len(r.NotLiveOnce), strings.Join(first(r.NotLiveOnce, 5), " "))
	}
	return r, nil
}

func (r *Report) checkOutcomes(e *Events, jobs []Job) {
	for _, j := range jobs {
		o, ok := e.Outcome(j.Key())
		switch {
		case !ok:
			r.Lost++
			continue
		case len(o.Sent) > 0 && len(o.Failed) > 0:
			r.Both++
		}
		if len(o.Sent)+len(o.Failed) > 1 {
			r.Multiple++
		}
		if len(o.Sent) > 0 {
			r.Sent++
		} else {
			r.Failed++
			r.FailedCodes[o.Code]++
		}
	}
	if r.Lost > 0 {
		r.problem("%d of %d jobs lost (no sent or failed event)", r.Lost, r.Jobs)
	}
	if r.Multiple > 0 {
		r.problem("%d jobs with more than one outcome event (%d with both sent and failed)", r.Multiple, r.Both)
	}
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// Settled reports what a scenario still waits for: jobs without outcome,
// inbound messages not seen, tenants not recorded as connected or whose
// latest simulator notice is not a connection. An empty result means it
// has settled; whether it settled correctly is for Verify to say.
func Settled(ctx context.Context, c *Client, o *Observer, e *Events, exp Expect) ([]string, error) {
	var waiting []string
	missing := 0
	for _, j := range exp.Jobs {
		if _, ok := e.Outcome(j.Key()); !ok {
			missing++
		}
	}
	if missing > 0 {
		waiting = append(waiting, fmt.Sprintf("%d jobs without outcome", missing))
	}
	unseen := 0
	for _, m := range exp.Inbound {
		if !e.Seen(m.Tenant, m.ID) {
			unseen++
		}
	}
	if unseen > 0 {
		waiting = append(waiting, fmt.Sprintf("%d inbound messages not seen", unseen))
	}
	n, err := c.Connected(ctx, exp.Tenants)
	if err != nil {
		return nil, err
	}
	if n < len(exp.Tenants) {
		waiting = append(waiting, fmt.Sprintf("%d tenants not connected", len(exp.Tenants)-n))
	}
	down := 0
	for _, t := range exp.Tenants {
		if _, up := o.Current(t); !up {
			down++
		}
	}
	if down > 0 {
		waiting = append(waiting, fmt.Sprintf("%d tenants whose latest notice is not a connection", down))
	}
	return waiting, nil
}

// WaitSettled waits until Settled reports nothing. It returns an error
// listing what was still awaited when ctx ended.
func WaitSettled(ctx context.Context, c *Client, o *Observer, e *Events, exp Expect) error {
	var last []string
	err := Poll(ctx, max(100*time.Millisecond, PollInterval(len(exp.Tenants))), func() (bool, error) {
		w, err := Settled(ctx, c, o, e, exp)
		if err != nil {
			return false, nil // Postgres may be restarting
		}
		last = w
		return len(w) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("not settled: %s: %w", strings.Join(last, ", "), err)
	}
	return nil
}

// Latencies returns the publish-to-sent-event latency of every sent job,
// sorted, and when the last sent event was stored.
func Latencies(p *Publisher, e *Events, jobs []Job) ([]time.Duration, time.Time) {
	var out []time.Duration
	var last time.Time
	for _, j := range jobs {
		o, ok := e.Outcome(j.Key())
		pub, okp := p.PublishedAt(j.Key())
		if !ok || !okp || len(o.Sent) == 0 {
			continue
		}
		out = append(out, o.At.Sub(pub))
		if o.At.After(last) {
			last = o.At
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out, last
}

// Percentile returns the q-quantile (0 < q <= 1) of sorted durations, or
// 0 when there are none.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// LongestStall returns the longest time one tenant went without an outcome
// event while it still had jobs to send (between two consecutive outcomes
// of its jobs, by stream time), and that tenant.
func LongestStall(e *Events, jobs []Job) (time.Duration, string) {
	byTenant := map[string][]time.Time{}
	for _, j := range jobs {
		if o, ok := e.Outcome(j.Key()); ok {
			byTenant[j.Tenant] = append(byTenant[j.Tenant], o.At)
		}
	}
	var worst time.Duration
	var who string
	for t, ats := range byTenant {
		sort.Slice(ats, func(a, b int) bool { return ats[a].Before(ats[b]) })
		for i := 1; i < len(ats); i++ {
			if gap := ats[i].Sub(ats[i-1]); gap > worst {
				worst, who = gap, t
			}
		}
	}
	return worst, who
}
