package worker_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/testing/harness"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// processLeaseTTL is the workers' lease: short, so that a takeover is quick.
const processLeaseTTL = 3 * time.Second

var (
	buildOnce sync.Once
	built     *harness.Binaries
	buildErr  error
)

// binaries builds cmd/worker once per test binary run, into the harness's
// shared cache directory (go's build cache makes a rebuild cheap).
func binaries(t *testing.T) *harness.Binaries {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		built, buildErr = harness.Build(ctx, harness.CacheDir())
	})
	if buildErr != nil {
		t.Fatalf("build binaries: %v", buildErr)
	}
	return built
}

// newProcessStack runs n worker processes on a private nats-server and a
// database of their own, with the observers around them.
func newProcessStack(t *testing.T, n int) *harness.Stack {
	t.Helper()
	bins := binaries(t)
	ns, err := harness.StartNATS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	dbURL := testenv.PostgresDB(t)
	logs := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := harness.NewStack(ctx, harness.StackConfig{
		WorkerBinary: bins.Worker, NATSURL: ns.URL(), DatabaseURL: dbURL, LogDir: logs,
		Workers: n, LeaseTTL: processLeaseTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, s)
		}
		s.Close()
	})
	return s
}

// dumpLogs shows the end of every worker's log of a failed test.
func dumpLogs(t *testing.T, s *harness.Stack) {
	for _, w := range s.Workers() {
		f, err := os.Open(w.LogPath())
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		t.Logf("--- last lines of %s:\n%s", w.ID(), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

// tenantIDs returns n tenant ids.
func tenantIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tenant-%03d", i)
	}
	return out
}

// pairAll pairs tenants through the control path and waits until the
// deployment is steady: all connected once, leases at their fair share.
func pairAll(t *testing.T, s *harness.Stack, tenants []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tenant.CreateAll(ctx, s.Client.Pool, tenants); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Pair(ctx, tenants, 8); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitBalanced(ctx, tenants); err != nil {
		t.Fatal(err)
	}
}

// verify runs the verifier and fails the test on every problem it reports.
func verify(t *testing.T, s *harness.Stack, exp harness.Expect) harness.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Verify(ctx, exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Problems {
		t.Error(p)
	}
	if len(r.Problems) > 0 {
		for _, tn := range exp.Tenants {
			if h := s.Observer.History(tn); len(h) > 0 {
				t.Logf("tenant %s notices: %v", tn, h)
			}
		}
	}
	return r
}

// settle waits (up to within) until exp has settled, failing the test
// with what is still missing otherwise.
func settle(t *testing.T, s *harness.Stack, exp harness.Expect, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := s.WaitSettled(ctx, exp); err != nil {
		for _, tn := range exp.Tenants {
			if live := s.Observer.Live(tn); len(live) != 1 {
				t.Logf("tenant %s: live %v, notices %v", tn, live, s.Observer.History(tn))
			}
		}
		t.Fatal(err)
	}
}
