package harness

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/bus"
)

// Job is one send job to publish.
type Job struct {
	Tenant string
	ID     string
	Body   []byte
}

// Key returns the job's key.
func (j Job) Key() JobKey { return JobKey{j.Tenant, j.ID} }

// TextJobs returns n text jobs spread round-robin over tenants, with ids
// <idPrefix>-<n>, all to one well-formed recipient.
func TextJobs(idPrefix string, tenants []string, n int) []Job {
	jobs := make([]Job, n)
	for i := range jobs {
		id := idPrefix + "-" + strconv.Itoa(i)
		jobs[i] = Job{
			Tenant: tenants[i%len(tenants)],
			ID:     id,
			Body:   []byte(`{"id":"` + id + `","to":"+51987654321","text":"load ` + id + `"}`),
		}
	}
	return jobs
}

// Publisher publishes send jobs to JetStream as a backend does: subject
// <p>.send.<tenant>, Nats-Msg-Id the job id, retrying a publish that got no
// acknowledgement (JetStream drops the duplicate). Build it with
// NewPublisher.
type Publisher struct {
	js    jetstream.JetStream
	names bus.Names

	retries atomic.Int64
	mu      sync.Mutex
	at      map[JobKey]time.Time
	first   time.Time
	last    time.Time
}

// NewPublisher returns a publisher on js under names.
func NewPublisher(js jetstream.JetStream, names bus.Names) *Publisher {
	return &Publisher{js: js, names: names, at: map[JobKey]time.Time{}}
}

// Publish publishes jobs with concurrency publishers, at most rate jobs a
// second (0: as fast as acknowledgements come). It returns once every job
// is stored, or with an error when ctx ends first.
func (p *Publisher) Publish(ctx context.Context, jobs []Job, rate float64, concurrency int) error {
	work := make(chan Job)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range max(concurrency, 1) {
		wg.Go(func() {
			for j := range work {
				if p.publishOne(ctx, j) != nil {
					failed.Add(1)
				}
			}
		})
	}
	pace := newPacer(rate)
	for _, j := range jobs {
		if !pace.wait(ctx) {
			break
		}
		select {
		case work <- j:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if n := failed.Load(); n > 0 || ctx.Err() != nil {
		return fmt.Errorf("publish: %d jobs not stored: %w", n, ctx.Err())
	}
	return nil
}

func (p *Publisher) publishOne(ctx context.Context, j Job) error {
	delay := 50 * time.Millisecond
	for {
		at := time.Now()
		// short: a publish caught by a NATS restart is not acked, and the
		// load, not the fault, would stall while it waits
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := p.js.PublishMsg(pctx, &nats.Msg{Subject: p.names.Send(j.Tenant), Data: j.Body}, jetstream.WithMsgID(j.ID))
		cancel()
		if err == nil {
			p.record(j.Key(), at)
			return nil
		}
		p.retries.Add(1)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Second)
	}
}

func (p *Publisher) record(k JobKey, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.at[k]; ok {
		return
	}
	p.at[k] = at
	if p.first.IsZero() || at.Before(p.first) {
		p.first = at
	}
	if at.After(p.last) {
		p.last = at
	}
}

// PublishedAt returns when job k's stored publish started.
func (p *Publisher) PublishedAt(k JobKey) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.at[k]
	return t, ok
}

// Span returns when the first and the last job were published.
func (p *Publisher) Span() (first, last time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first, p.last
}

// Published returns how many jobs are stored.
func (p *Publisher) Published() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.at)
}

// Retries returns how many publish attempts failed and were retried.
func (p *Publisher) Retries() int64 { return p.retries.Load() }
