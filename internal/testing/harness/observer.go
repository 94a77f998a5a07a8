package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
)

// ConnEvent is one simulator connection notice, as the observer saw it.
type ConnEvent struct {
	At     time.Time
	Tenant string
	Worker string
	// Conn is the connection's id (notices without one match by worker).
	Conn string
	// Kind is "connected" or "disconnected".
	Kind   string
	Reason string
}

// Violation is a moment when a tenant had two live connections.
type Violation struct {
	At      time.Time
	Tenant  string
	Workers []string
}

func (v Violation) String() string {
	return fmt.Sprintf("%s: tenant %s connected by %v at once", v.At.Format("15:04:05.000"), v.Tenant, v.Workers)
}

// Observer follows the simulator's notices under one prefix: connections
// and disconnections per tenant (flagging two live connections of one
// tenant) and every message delivered to simulated WhatsApp. All notices
// arrive on one subscription, so they are seen in the order each worker
// published them. Build it with Observe; Close it when done.
type Observer struct {
	names bus.Names
	nc    *nats.Conn
	sub   *nats.Subscription

	reconnects atomic.Int64

	mu         sync.Mutex
	live       map[string][]ConnEvent // tenant → live connections
	history    map[string][]ConnEvent
	violations []Violation
	maxLive    int
	unmatched  int
	deliveries map[JobKey]map[string]int // job → WhatsApp id → notices
	notices    int
}

// JobKey names a job: job ids are unique per tenant.
type JobKey struct{ Tenant, Job string }

// Observe connects to url and starts observing the simulator under names.
// It returns an error when the connection or subscription fails.
func Observe(url string, names bus.Names) (*Observer, error) {
	o := &Observer{
		names:      names,
		live:       map[string][]ConnEvent{},
		history:    map[string][]ConnEvent{},
		deliveries: map[JobKey]map[string]int{},
	}
	nc, err := nats.Connect(url, nats.Name("wabus-harness observer"), nats.MaxReconnects(-1),
		nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0),
		nats.ReconnectHandler(func(*nats.Conn) { o.reconnects.Add(1) }))
	if err != nil {
		return nil, fmt.Errorf("observer: connect: %w", err)
	}
	sub, err := nc.Subscribe(names.Sim("*", "*"), o.onMsg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("observer: subscribe: %w", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	if err := nc.Flush(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("observer: flush: %w", err)
	}
	o.nc, o.sub = nc, sub
	return o, nil
}

// Close stops observing.
func (o *Observer) Close() {
	_ = o.sub.Unsubscribe()
	o.nc.Close()
}

// Reconnects returns how often the observer's connection was re-established
// (notices published meanwhile may be missing).
func (o *Observer) Reconnects() int64 { return o.reconnects.Load() }

func (o *Observer) onMsg(m *nats.Msg) {
	tenant, op := o.names.Token(m.Subject, 1), o.names.Token(m.Subject, 2)
	switch op {
	case "connected", "disconnected":
		var v struct {
			Worker, Reason string
			Conn           string `json:"conn_id"`
		}
		if json.Unmarshal(m.Data, &v) == nil {
			o.onConn(ConnEvent{At: time.Now(), Tenant: tenant, Worker: v.Worker, Conn: v.Conn, Kind: op, Reason: v.Reason})
		}
	case "delivered":
		var d struct {
			MessageID string `json:"message_id"`
			JobID     string `json:"job_id"`
		}
		if json.Unmarshal(m.Data, &d) == nil {
			o.onDelivered(JobKey{tenant, d.JobID}, d.MessageID)
		}
	}
}

func (o *Observer) onConn(ev ConnEvent) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.history[ev.Tenant] = append(o.history[ev.Tenant], ev)
	live := o.live[ev.Tenant]
	if ev.Kind == "disconnected" {
		i := slices.IndexFunc(live, func(c ConnEvent) bool {
			if c.Conn != "" && ev.Conn != "" {
				return c.Conn == ev.Conn
			}
			return c.Worker == ev.Worker
		})
		if i < 0 {
			o.unmatched++
			return
		}
		o.live[ev.Tenant] = slices.Delete(live, i, i+1)
		return
	}
	live = append(live, ev)
	o.live[ev.Tenant] = live
	o.maxLive = max(o.maxLive, len(live))
	if len(live) > 1 {
		workers := make([]string, len(live))
		for i, c := range live {
			workers[i] = c.Worker
		}
		o.violations = append(o.violations, Violation{At: ev.At, Tenant: ev.Tenant, Workers: workers})
	}
}

func (o *Observer) onDelivered(k JobKey, id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.notices++
	ids := o.deliveries[k]
	if ids == nil {
		ids = map[string]int{}
		o.deliveries[k] = ids
	}
	ids[id]++
}

// Live returns the workers holding a live connection of tenant (one,
// normally; none while it is down).
func (o *Observer) Live(tenant string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, c := range o.live[tenant] {
		out = append(out, c.Worker)
	}
	return out
}

// LiveTenants returns the tenants worker holds a live connection of,
// sorted.
func (o *Observer) LiveTenants(worker string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for t, live := range o.live {
		if slices.ContainsFunc(live, func(c ConnEvent) bool { return c.Worker == worker }) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// ConnectedAfter returns when tenant was first connected by a worker other
// than exclude after t.
func (o *Observer) ConnectedAfter(tenant string, t time.Time, exclude string) (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ev := range o.history[tenant] {
		if ev.Kind == "connected" && ev.At.After(t) && ev.Worker != exclude {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// Current returns the worker of tenant's latest notice, and whether that
// notice is a connection (so the tenant is up, as far as notices go).
func (o *Observer) Current(tenant string) (worker string, up bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.history[tenant]
	if len(h) == 0 {
		return "", false
	}
	last := h[len(h)-1]
	return last.Worker, last.Kind == "connected"
}

// History returns tenant's connection notices in order.
func (o *Observer) History(tenant string) []ConnEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.history[tenant])
}

// MaxConcurrent returns the largest number of live connections any tenant
// had at one moment.
func (o *Observer) MaxConcurrent() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxLive
}

// Violations returns the moments a tenant had two live connections.
func (o *Observer) Violations() []Violation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.violations)
}

// Unmatched returns how many disconnections named a worker without a live
// connection of that tenant (a notice missed while reconnecting, say).
func (o *Observer) Unmatched() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unmatched
}

// Deliveries summarizes what reached simulated WhatsApp.
type Deliveries struct {
	// Jobs is how many distinct jobs were delivered.
	Jobs int
	// Notices is how many delivered notices arrived.
	Notices int
	// MultiID lists the jobs delivered under two or more WhatsApp ids.
	MultiID []JobKey
	// Repeated is how many jobs were delivered more than once under the
	// same id (a retry after a crash: the recipient sees one message).
	Repeated int
}

// Deliveries returns the delivery summary so far.
func (o *Observer) Deliveries() Deliveries {
	o.mu.Lock()
	defer o.mu.Unlock()
	d := Deliveries{Jobs: len(o.deliveries), Notices: o.notices}
	for k, ids := range o.deliveries {
		if len(ids) > 1 {
			d.MultiID = append(d.MultiID, k)
		}
		for _, n := range ids {
			if n > 1 {
				d.Repeated++
			}
		}
	}
	return d
}

// WaitTakeover waits until every one of tenants was connected after since
// by a worker other than victim, and its latest notice is a connection by
// such a worker. (Whether the victim's connection was announced as gone is
// for Verify to judge.)
// It returns how long after since the last of them connected, or an error
// when ctx ends first.
func (o *Observer) WaitTakeover(ctx context.Context, tenants []string, since time.Time, victim string) (time.Duration, error) {
	var took time.Duration
	err := Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		took = 0
		for _, t := range tenants {
			at, ok := o.ConnectedAfter(t, since, victim)
			holder, up := o.Current(t)
			if !ok || !up || holder == victim {
				return false, nil
			}
			took = max(took, at.Sub(since))
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("takeover of %d tenants from %s: %w", len(tenants), victim, err)
	}
	return took, nil
}

// String renders a notice compactly: time, kind, worker and reason.
func (ev ConnEvent) String() string {
	s := ev.At.Format("15:04:05.000") + " " + ev.Kind + " " + ev.Worker
	if ev.Reason != "" {
		s += " (" + ev.Reason + ")"
	}
	return s
}
