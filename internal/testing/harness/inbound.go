package harness

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Inbound is a message a contact sends to a tenant through the simulator.
type Inbound struct {
	Tenant string `json:"-"`
	ID     string `json:"id"`
	From   string `json:"from"`
	Text   string `json:"text"`
}

// InboundMessages returns n messages spread round-robin over tenants, with
// ids <idPrefix>-<n>.
func InboundMessages(idPrefix string, tenants []string, n int) []Inbound {
	out := make([]Inbound, n)
	for i := range out {
		id := idPrefix + "-" + strconv.Itoa(i)
		out[i] = Inbound{Tenant: tenants[i%len(tenants)], ID: id, From: "+5199" + strconv.Itoa(1000000+i%1000000), Text: "hello " + id}
	}
	return out
}

// InjectResult says how an injection went.
type InjectResult struct {
	// Accepted are the messages the simulated server took (reply {}).
	Accepted []Inbound
	// Missing are the messages never accepted before ctx ended.
	Missing []Inbound
	// Retries is how many requests got an error or no reply and were
	// repeated (with the same id: the server keeps one); Timeouts are
	// those among them that got no reply at all.
	Retries, Timeouts int64
}

// Inject sends every message as a simulator inbound request, concurrency at
// a time and at most rate a second (0: no limit), repeating a request that
// got an error or no reply (the owner may be dead or moving) until it is
// accepted or ctx ends.
func (c *Client) Inject(ctx context.Context, msgs []Inbound, concurrency int, rate float64) InjectResult {
	var (
		mu       sync.Mutex
		res      InjectResult
		retries  atomic.Int64
		timeouts atomic.Int64
		wg       sync.WaitGroup
	)
	work := make(chan Inbound)
	for range max(concurrency, 1) {
		wg.Go(func() {
			for m := range work {
				ok := c.injectOne(ctx, m, &retries, &timeouts)
				mu.Lock()
				if ok {
					res.Accepted = append(res.Accepted, m)
				} else {
					res.Missing = append(res.Missing, m)
				}
				mu.Unlock()
			}
		})
	}
	pace := newPacer(rate)
	for _, m := range msgs {
		if !pace.wait(ctx) {
			break
		}
		work <- m
	}
	close(work)
	wg.Wait()
	res.Retries, res.Timeouts = retries.Load(), timeouts.Load()
	return res
}

func (c *Client) injectOne(ctx context.Context, m Inbound, retries, timeouts *atomic.Int64) bool {
	delay := 50 * time.Millisecond
	for {
		rep, err := c.Request(ctx, c.Names.Sim(m.Tenant, "inbound"), m, 3*time.Second)
		if err == nil && rep.Code == "" {
			return true
		}
		retries.Add(1)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
			timeouts.Add(1)
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

// pacer spaces out events at a rate.
type pacer struct {
	start time.Time
	every time.Duration
	n     int
}

func newPacer(rate float64) *pacer {
	p := &pacer{start: time.Now()}
	if rate > 0 {
		p.every = time.Duration(float64(time.Second) / rate)
	}
	return p
}

// wait blocks until the next event is due; it returns false when ctx ended.
func (p *pacer) wait(ctx context.Context) bool {
	due := p.start.Add(time.Duration(p.n) * p.every)
	p.n++
	if d := time.Until(due); d > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
		}
	}
	return ctx.Err() == nil
}
