package harness

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/vocab"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// the command name may hold spaces and parentheses
	stat := []byte("4242 (wor ker) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 12345 1000 200")
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Fatalf("cpu = %s, want %s", got, want)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1")); err == nil {
		t.Fatal("a short stat line parsed")
	}
}

func TestMeterSumsCPUOverRestarts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	samples := []ProcSample{{CPU: time.Second, RSS: 10}, {CPU: 3 * time.Second, RSS: 30}, {}, {CPU: 2 * time.Second, RSS: 20}}
	errGone := errors.New("gone")
	read := func() (ProcSample, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(samples) == 0 {
			return ProcSample{CPU: 2 * time.Second, RSS: 20}, nil
		}
		s := samples[0]
		samples = samples[1:]
		if s == (ProcSample{}) {
			return s, errGone // the process was killed
		}
		return s, nil
	}
	m := NewMeter(read, time.Hour) // sampled by hand below
	defer m.Close()
	for range 3 {
		m.sample()
	}
	u := m.Snapshot()
	if u.CPU != 5*time.Second || u.RSS != 20 || u.PeakRSS != 30 {
		t.Fatalf("usage = %+v, want 5s of CPU over two processes, RSS 20, peak 30", u)
	}
	m.ResetPeak()
	if u := m.Snapshot(); u.PeakRSS != 20 {
		t.Fatalf("peak after reset = %d, want 20", u.PeakRSS)
	}
}

func TestObserverFlagsTwoLiveConnections(t *testing.T) {
	t.Parallel()
	o := &Observer{live: map[string][]ConnEvent{}, history: map[string][]ConnEvent{}}
	at := time.Now()
	conn := func(kind, worker string) {
		at = at.Add(time.Millisecond)
		o.onConn(ConnEvent{At: at, Tenant: "a", Worker: worker, Kind: kind})
	}
	conn("connected", "w1")
	conn("disconnected", "w1") // replaced: announced before the new one
	conn("connected", "w2")
	if v := o.Violations(); len(v) != 0 {
		t.Fatalf("a clean handover flagged: %v", v)
	}
	if w, up := o.Current("a"); w != "w2" || !up {
		t.Fatalf("current = %s %v, want w2 up", w, up)
	}
	conn("connected", "w3") // w2 never announced gone
	if v := o.Violations(); len(v) != 1 || o.MaxConcurrent() != 2 {
		t.Fatalf("violations %v, max %d; want one, 2", v, o.MaxConcurrent())
	}
	conn("disconnected", "w9")
	if o.Unmatched() != 1 {
		t.Fatalf("unmatched = %d, want 1", o.Unmatched())
	}
	if got, ok := o.ConnectedAfter("a", time.Time{}, "w1"); !ok || got.IsZero() {
		t.Fatal("no connection by another worker found")
	}

	// With connection ids, a restarted worker's new connection is told
	// apart from its old one.
	o = &Observer{live: map[string][]ConnEvent{}, history: map[string][]ConnEvent{}}
	byConn := func(kind, worker, id string) {
		at = at.Add(time.Millisecond)
		o.onConn(ConnEvent{At: at, Tenant: "b", Worker: worker, Conn: id, Kind: kind})
	}
	byConn("connected", "w1", "c1")
	byConn("connected", "w1", "c2") // c1 never announced gone
	byConn("disconnected", "w1", "c1")
	if v := o.Violations(); len(v) != 1 {
		t.Fatalf("violations %v, want one", v)
	}
	if live := o.Live("b"); len(live) != 1 {
		t.Fatalf("live = %v, want one connection", live)
	}
	byConn("disconnected", "w1", "c1")
	if o.Unmatched() != 1 {
		t.Fatalf("unmatched = %d, want 1 (c1 was already gone)", o.Unmatched())
	}
}

func TestVerifierCountsOutcomes(t *testing.T) {
	t.Parallel()
	e := &Events{outcomes: map[JobKey]*Outcome{}, messages: map[string]map[string]int{}}
	at := time.Now()
	e.outcome(JobKey{"a", "1"}, vocab.EventSent.Token, envelope{ID: "s1"}, at)
	e.outcome(JobKey{"a", "2"}, vocab.EventSent.Token, envelope{ID: "s2"}, at.Add(time.Second))
	e.outcome(JobKey{"a", "2"}, vocab.EventFailed.Token, envelope{ID: "f2"}, at.Add(2*time.Second))
	jobs := []Job{{Tenant: "a", ID: "1"}, {Tenant: "a", ID: "2"}, {Tenant: "a", ID: "3"}}
	var r Report
	r.Jobs, r.FailedCodes = len(jobs), map[string]int{}
	r.checkOutcomes(e, jobs)
	if r.Sent != 2 || r.Lost != 1 || r.Both != 1 || r.Multiple != 1 || len(r.Problems) != 2 {
		t.Fatalf("report = %+v", r)
	}
	if gap, who := LongestStall(e, jobs); gap != time.Second || who != "a" {
		t.Fatalf("stall = %s on %q, want 1s on a", gap, who)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{.5, 50 * time.Millisecond}, {.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := Percentile(d, c.q); got != c.want {
			t.Errorf("p%v = %s, want %s", c.q*100, got, c.want)
		}
	}
	if Percentile(nil, .5) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

// The private nats-server keeps its port and store across a restart.
func TestNATSRestartKeepsStore(t *testing.T) {
	t.Parallel()
	s, err := StartNATS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	nc, err := s.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	err = Poll(ctx, 20*time.Millisecond, func() (bool, error) {
		st, err := js.Stream(ctx, "S")
		if err != nil {
			return false, nil
		}
		info, err := st.Info(ctx)
		return err == nil && info.State.Msgs == 1, nil
	})
	if err != nil {
		t.Fatalf("stream not back with its message after restart: %v", err)
	}
}

func TestWarningsGroupsLines(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/w.log"
	log := `time=2026-01-01T00:00:00Z level=INFO msg="worker started" worker=w1
time=2026-01-01T00:00:01Z level=WARN msg="bind send consumer failed" worker=w1 component=send tenant=a error="context deadline exceeded"
time=2026-01-01T00:00:02Z level=WARN msg="bind send consumer failed" worker=w1 component=send tenant=b error="context deadline exceeded"
time=2026-01-01T00:00:03Z level=ERROR msg=boom worker=w1
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := Warnings(path, path+".missing")
	want := []LogCount{
		{`level=WARN msg="bind send consumer failed" error="context deadline exceeded"`, 2},
		{"level=ERROR msg=boom", 1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("warnings = %v, want %v", got, want)
	}
}
