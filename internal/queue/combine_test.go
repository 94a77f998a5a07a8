package queue

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Many callers at once, several per tenant: every request is answered with
// its own result, no batch holds a tenant twice, and the lead is handed on
// until nobody waits.
func TestCombinerBatchesConcurrentRequests(t *testing.T) {
	c := combiner[int, int]{}
	c.run = func(batch []*request[int, int]) {
		seen := map[string]bool{}
		for _, r := range batch {
			if seen[r.tenant] {
				t.Errorf("tenant %s twice in one batch", r.tenant)
			}
			seen[r.tenant] = true
			r.out = r.in * 2
		}
	}
	const callers, each = 40, 50
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			for k := range each {
				in := i*1000 + k
				out, err := c.do(fmt.Sprintf("t%d", i%10), in) // four callers per tenant
				if err != nil || out != in*2 {
					t.Errorf("request %d answered %d, %v", in, out, err)
				}
			}
		})
	}
	wg.Wait()
	if c.running || len(c.waiting) != 0 {
		t.Errorf("combiner left running=%v with %d waiting", c.running, len(c.waiting))
	}
}

// While a batch runs, the requests that come wait and go together in the
// next one.
func TestCombinerTakesWhatCameMeanwhileInOneBatch(t *testing.T) {
	c := combiner[int, int]{}
	var sizes []int
	first := make(chan struct{})
	c.run = func(batch []*request[int, int]) {
		if len(sizes) == 0 {
			close(first)
			for { // hold the first batch until the others wait
				c.mu.Lock()
				n := len(c.waiting)
				c.mu.Unlock()
				if n == 9 {
					break
				}
				runtime.Gosched()
			}
		}
		sizes = append(sizes, len(batch))
		for _, r := range batch {
			r.out = r.in
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { c.do("t0", 0) })
	<-first
	for i := 1; i < 10; i++ {
		wg.Go(func() {
			if out, _ := c.do(fmt.Sprintf("t%d", i), i); out != i {
				t.Errorf("request %d answered %d", i, out)
			}
		})
	}
	wg.Wait()
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != 9 {
		t.Fatalf("batch sizes %v, want [1 9]", sizes)
	}
}
