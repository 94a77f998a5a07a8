package deploytest

import (
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// selector is one metric an expression reads, with the label names its
// matchers use.
type selector struct {
	metric string
	labels []string
}

// usage is what one PromQL expression reads: its selectors and the label
// names of its grouping clauses (by, without, on, ignoring, group_left,
// group_right).
type usage struct {
	selectors []selector
	grouping  []string
}

// promqlWords are PromQL's keywords and aggregation operators (which may
// be followed by "by (...)" rather than "("); any other identifier followed
// by "(" is a function. None of them is a metric.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"inf": true, "nan": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// groupingWords are followed by a parenthesized list of label names.
var groupingWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

var (
	stringLit = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	rangeSel  = regexp.MustCompile(`\[[^\]]*\]`)
	identRe   = regexp.MustCompile(`^[A-Za-z_:][A-Za-z0-9_:]*`)
	numberRe  = regexp.MustCompile(`^[0-9][0-9A-Za-z_.]*`)
	varRe     = regexp.MustCompile(`^\$\{?[A-Za-z0-9_]+\}?`)
	matcherRe = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)`)
)

// scanPromQL returns what expr reads. It understands the PromQL of
// dashboards and rule files (selectors, functions, aggregations, binary
// operators, grouping clauses, Grafana's $variables), not every corner of
// the language: enough to find each metric name and label name.
func scanPromQL(expr string) usage {
	s := stringLit.ReplaceAllString(expr, `""`)
	s = rangeSel.ReplaceAllString(s, "")
	var u usage
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case varRe.MatchString(rest):
			i += len(varRe.FindString(rest))
		case numberRe.MatchString(rest):
			i += len(numberRe.FindString(rest))
		case identRe.MatchString(rest):
			i += scanIdent(rest, &u)
		case rest[0] == '{': // a selector without a name, {__name__=...}
			i += strings.IndexByte(rest, '}') + 1
		default:
			i++
		}
	}
	return u
}

// scanIdent reads the identifier at the start of s (and what belongs to
// it: a label list or matchers) into u, and returns how much it read.
func scanIdent(s string, u *usage) int {
	id := identRe.FindString(s)
	after := strings.TrimLeft(s[len(id):], " \t\n")
	skipped := len(s) - len(after)
	lower := strings.ToLower(id)
	switch {
	case groupingWords[lower] && strings.HasPrefix(after, "("):
		end := strings.IndexByte(after, ')')
		for _, l := range strings.Split(after[1:end], ",") {
			if l = strings.TrimSpace(l); l != "" {
				u.grouping = append(u.grouping, l)
			}
		}
		return skipped + end + 1
	case promqlWords[lower], strings.HasPrefix(after, "("):
		return len(id)
	case strings.HasPrefix(after, "{"):
		end := strings.IndexByte(after, '}')
		u.selectors = append(u.selectors, selector{metric: id, labels: matcherLabels(after[1:end])})
		return skipped + end + 1
	}
	u.selectors = append(u.selectors, selector{metric: id})
	return len(id)
}

// matcherLabels returns the label names of a selector's matchers.
func matcherLabels(block string) []string {
	var out []string
	for _, m := range strings.Split(block, ",") {
		if g := matcherRe.FindStringSubmatch(m); g != nil {
			out = append(out, g[1])
		}
	}
	return out
}

// TestScanPromQL pins the extractor on the shapes the dashboard and the
// rules use, so that a metric can never hide from TestDashboardAndAlertMetrics.
func TestScanPromQL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr     string
		metrics  []string
		labels   []string // matcher labels, all selectors
		grouping []string
	}{
		{`sum by (state) (wabus_sessions_by_state)`, []string{"wabus_sessions_by_state"}, nil, []string{"state"}},
		{`sum by (code) (rate(wabus_send_jobs_total{outcome="failed"}[$__rate_interval]))`,
			[]string{"wabus_send_jobs_total"}, []string{"outcome"}, []string{"code"}},
		{`histogram_quantile(0.95, sum by (le, route) (rate(wabus_admin_request_duration_seconds_bucket{route!="GET /v1/sessions/{tenant}/qr"}[5m])))`,
			[]string{"wabus_admin_request_duration_seconds_bucket"}, []string{"route"}, []string{"le", "route"}},
		{`max by (instance) (a) or count without (job) (b)`, []string{"a", "b"}, nil, []string{"instance", "job"}},
		{`absent(up{job="wabus-worker"} == 1)`, []string{"up"}, []string{"job"}, nil},
		{`max(wabus_outbox_backlog) > 100 and max(deriv(wabus_outbox_backlog[10m])) > 0`,
			[]string{"wabus_outbox_backlog", "wabus_outbox_backlog"}, nil, nil},
		{`sum(rate(a_total[5m] offset 1h)) / on (instance) group_left sum(b)`, []string{"a_total", "b"}, nil, []string{"instance"}},
		{`process_resident_memory_bytes{job=~"wabus-.*", instance!=""} * 1e3`,
			[]string{"process_resident_memory_bytes"}, []string{"job", "instance"}, nil},
		{`sum(rate(wabus_send_latency_seconds_sum[$__rate_interval])) / sum(rate(wabus_send_latency_seconds_count[${interval}]))`,
			[]string{"wabus_send_latency_seconds_sum", "wabus_send_latency_seconds_count"}, nil, nil},
	}
	for _, tt := range tests {
		u := scanPromQL(tt.expr)
		var metrics, labels []string
		for _, s := range u.selectors {
			metrics = append(metrics, s.metric)
			labels = append(labels, s.labels...)
		}
		sort.Strings(metrics)
		want := append([]string(nil), tt.metrics...)
		sort.Strings(want)
		if !reflect.DeepEqual(metrics, want) || !reflect.DeepEqual(labels, tt.labels) || !reflect.DeepEqual(u.grouping, tt.grouping) {
			t.Errorf("scanPromQL(%q) = metrics %v labels %v grouping %v; want %v %v %v",
				tt.expr, metrics, labels, u.grouping, want, tt.labels, tt.grouping)
		}
	}
}
