package queue

import "sync"

// combiner runs the requests that callers make at the same time as one
// batch, so that a statement's cost is shared by every tenant waiting for
// it instead of paid by each: the first caller leads, running a batch with
// every request waiting, and the requests that come while it runs go in
// the next batch. It adds no wait: a request alone is run at once. A
// leader whose own request is done hands the lead to the oldest waiting
// caller, so nobody leads for long. Each batch holds at most one request
// per tenant (a tenant's second request waits for the next batch), so a
// batch statement never meets the same tenant's rows twice.
type combiner[In, Out any] struct {
	run func(batch []*request[In, Out])

	mu      sync.Mutex
	waiting []*request[In, Out]
	running bool
}

// request is one caller's part of a batch; run sets out and err.
type request[In, Out any] struct {
	tenant   string
	in       In
	out      Out
	err      error
	finished bool          // under the combiner's mu
	wake     chan struct{} // finished, or promoted to lead
}

// do runs in as part of a batch and returns once its batch has run.
func (c *combiner[In, Out]) do(tenant string, in In) (Out, error) {
	r := &request[In, Out]{tenant: tenant, in: in, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	c.waiting = append(c.waiting, r)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if !lead {
		<-r.wake
		c.mu.Lock()
		lead = !r.finished
		c.mu.Unlock()
	}
	if lead {
		c.lead(r)
	}
	return r.out, r.err
}

// lead runs batches until me is done, then passes the lead on.
func (c *combiner[In, Out]) lead(me *request[In, Out]) {
	c.mu.Lock()
	for !me.finished {
		batch := c.take()
		c.mu.Unlock()
		c.run(batch)
		c.mu.Lock()
		for _, r := range batch {
			r.finished = true
			if r != me {
				r.wake <- struct{}{}
			}
		}
	}
	if len(c.waiting) > 0 {
		c.waiting[0].wake <- struct{}{}
	} else {
		c.running = false
	}
	c.mu.Unlock()
}

// take removes from the waiting list one request per tenant, oldest
// first. It is called with mu held.
func (c *combiner[In, Out]) take() []*request[In, Out] {
	seen := make(map[string]bool, len(c.waiting))
	var batch, rest []*request[In, Out]
	for _, r := range c.waiting {
		if seen[r.tenant] {
			rest = append(rest, r)
			continue
		}
		seen[r.tenant] = true
		batch = append(batch, r)
	}
	c.waiting = rest
	return batch
}
