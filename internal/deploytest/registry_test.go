package deploytest

import (
	"io"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wabus/wabus/internal/admin"
	"github.com/wabus/wabus/internal/obs"
	"github.com/wabus/wabus/internal/session/wmdriver"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/worker"
)

// series is what a scraper sees of one name: the process that exposes it
// and its label names (job and instance are added by Prometheus).
type series struct {
	process string
	labels  map[string]bool
}

// recorder is a registry that remembers every collector registered on it,
// so that metric vectors with no child yet (absent from Gather) are known
// by their descriptors.
type recorder struct {
	*prometheus.Registry
	mu         sync.Mutex
	collectors []prometheus.Collector
}

func newRecorder() *recorder { return &recorder{Registry: obs.NewRegistry()} }

// Register registers c and remembers it.
func (r *recorder) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister registers each collector, panicking on an error.
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// processSeries builds the worker's and admin's components as their Run
// functions do, each on its own registry, and returns every series name
// the two processes expose. It fails the test when a component cannot be
// built.
func processSeries(t *testing.T) map[string]series {
	t.Helper()
	stack := testenv.NewStack(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	all := map[string]series{
		// Prometheus's own series for every target it scrapes.
		"up": {process: "prometheus", labels: map[string]bool{}},
	}
	for name, s := range seriesOf(t, "worker", workerRegistry(t, stack, logger)) {
		all[name] = s
	}
	for name, s := range seriesOf(t, "admin", adminRegistry(t, stack, logger)) {
		if prev, ok := all[name]; ok {
			s = mergeSeries(prev, s)
		}
		all[name] = s
	}
	return all
}

// workerRegistry registers what a worker registers, built as the worker
// process builds it (worker.New, on the simulator driver).
func workerRegistry(t *testing.T, stack *testenv.Stack, logger *slog.Logger) *recorder {
	t.Helper()
	reg := newRecorder()
	w, err := worker.New(workertest.Config(t, stack, "w1"), worker.Deps{
		Pool: stack.Pool, NATS: stack.NATS.Conn(t), JS: stack.JS, Names: stack.Names, Logger: logger, Registry: reg,
	})
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return reg
}

// adminRegistry registers what admin.Run registers.
func adminRegistry(t *testing.T, stack *testenv.Stack, logger *slog.Logger) *recorder {
	t.Helper()
	reg := newRecorder()
	_, err := admin.New(admin.Config{Token: "deploytest"}, admin.Deps{
		Pool: stack.Pool, NATS: stack.NATS.Conn(t), JS: stack.JS, Names: stack.Names, Devices: wmdriver.Devices{},
		Logger: logger, Registry: reg,
	})
	if err != nil {
		t.Fatalf("admin server: %v", err)
	}
	return reg
}

// seriesOf returns the series names of a registry: what Gather returns
// (the Go and process collectors, plain metrics) and what the recorded
// collectors describe (vectors with no child yet), histograms and
// summaries expanded to their _bucket, _sum and _count series.
func seriesOf(t *testing.T, process string, reg *recorder) map[string]series {
	t.Helper()
	out := map[string]series{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("%s: gather: %v", process, err)
	}
	for _, mf := range families {
		addFamily(out, process, mf.GetName(), kindOf(mf.GetType()), gatheredLabels(mf))
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, c := range reg.collectors {
		for _, d := range describe(c) {
			name, labels := parseDesc(t, d)
			addFamily(out, process, name, collectorKind(c), labels)
		}
	}
	return out
}

// Family kinds, as far as their series names go.
const (
	plain     = "plain"
	histogram = "histogram"
	summary   = "summary"
)

func kindOf(t dto.MetricType) string {
	switch t {
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return histogram
	case dto.MetricType_SUMMARY:
		return summary
	}
	return plain
}

// collectorKind tells histograms and summaries from the rest by the
// collector's Go type.
func collectorKind(c prometheus.Collector) string {
	switch c.(type) {
	case *prometheus.HistogramVec, prometheus.Histogram:
		return histogram
	case *prometheus.SummaryVec, prometheus.Summary:
		return summary
	}
	return plain
}

// addFamily adds the series of one family.
func addFamily(out map[string]series, process, name, kind string, labels []string) {
	add := func(n string, extra ...string) {
		s, ok := out[n]
		if !ok {
			s = series{process: process, labels: map[string]bool{}}
		}
		for _, l := range append(labels, extra...) {
			s.labels[l] = true
		}
		out[n] = s
	}
	switch kind {
	case histogram:
		add(name+"_bucket", "le")
		add(name + "_sum")
		add(name + "_count")
	case summary:
		add(name, "quantile")
		add(name + "_sum")
		add(name + "_count")
	default:
		add(name)
	}
}

func gatheredLabels(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.GetMetric() {
		for _, lp := range m.GetLabel() {
			out = append(out, lp.GetName())
		}
	}
	return out
}

func describe(c prometheus.Collector) []*prometheus.Desc {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	var out []*prometheus.Desc
	for d := range ch {
		out = append(out, d)
	}
	return out
}

// descPattern reads a Desc's String(): its name, constant and variable labels.
var descPattern = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}\}$`)

func parseDesc(t *testing.T, d *prometheus.Desc) (string, []string) {
	t.Helper()
	m := descPattern.FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("cannot read descriptor %s", d)
	}
	var labels []string
	for _, kv := range strings.Split(m[2], ",") {
		if name, _, ok := strings.Cut(kv, "="); ok {
			labels = append(labels, name)
		}
	}
	for _, l := range strings.Split(m[3], ",") {
		if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
			labels = append(labels, l)
		}
	}
	return m[1], labels
}

func mergeSeries(a, b series) series {
	out := series{process: a.process + "+" + b.process, labels: map[string]bool{}}
	for l := range a.labels {
		out.labels[l] = true
	}
	for l := range b.labels {
		out.labels[l] = true
	}
	return out
}

// labelList returns a series' labels, sorted, for messages.
func (s series) labelList() []string {
	out := make([]string, 0, len(s.labels))
	for l := range s.labels {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
