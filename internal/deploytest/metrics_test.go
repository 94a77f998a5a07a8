package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// repoFile returns the path of a file relative to the repository root.
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(here), "..", "..", filepath.FromSlash(rel))
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// Where the dashboard, the rules and the Prometheus configuration live.
const (
	dashboardFile  = "deploy/grafana/dashboards/wabus.json"
	rulesFile      = "deploy/prometheus/alerts.yml"
	prometheusFile = "deploy/prometheus/prometheus.yml"
)

// expression is one PromQL expression and where it was found.
type expression struct {
	where string
	expr  string
}

// dashboardExprs returns every "expr" of the dashboard's panels (nested
// rows included).
func dashboardExprs(t *testing.T) []expression {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(readFile(t, dashboardFile)), &doc); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []expression
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			if title, ok := v["title"].(string); ok {
				where = dashboardFile + ": " + title
			}
			if e, ok := v["expr"].(string); ok {
				out = append(out, expression{where, e})
			}
			for _, x := range v {
				walk(x, where)
			}
		case []any:
			for _, x := range v {
				walk(x, where)
			}
		}
	}
	walk(doc, dashboardFile)
	if len(out) == 0 {
		t.Fatalf("%s has no expressions", dashboardFile)
	}
	return out
}

var (
	alertLine = regexp.MustCompile(`^\s*- alert:\s*(\S+)`)
	exprLine  = regexp.MustCompile(`^(\s*)expr:\s*(.*)$`)
)

// ruleExprs reads the rule file line by line: each "expr:" value, on its
// line or as the block ("|" or ">") indented below it, named by its alert.
func ruleExprs(t *testing.T) []expression {
	t.Helper()
	lines := strings.Split(readFile(t, rulesFile), "\n")
	var out []expression
	alert := ""
	for i := 0; i < len(lines); i++ {
		if m := alertLine.FindStringSubmatch(lines[i]); m != nil {
			alert = m[1]
		}
		m := exprLine.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		expr := strings.TrimSpace(m[2])
		if expr == "|" || expr == ">" || expr == "|-" || expr == ">-" {
			var block []string
			for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || indent(lines[i+1]) > len(m[1])) {
				i++
				block = append(block, strings.TrimSpace(lines[i]))
			}
			expr = strings.Join(block, " ")
		}
		out = append(out, expression{rulesFile + ": " + alert, unquote(expr)})
	}
	if len(out) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return out
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// unquote strips YAML quotes around a one-line value.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// scrapeLabels are added by Prometheus to every series it scrapes.
var scrapeLabels = map[string]bool{"job": true, "instance": true, "__name__": true}

// TestDashboardAndAlertMetrics checks every metric name and label the
// dashboard and the alert rules use against what the worker and admin
// register: a renamed metric or a typo fails here, not silently on a
// graph that stays empty.
func TestDashboardAndAlertMetrics(t *testing.T) {
	t.Parallel()
	known := processSeries(t)
	exprs := append(dashboardExprs(t), ruleExprs(t)...)
	used := map[string]bool{}
	for _, e := range exprs {
		u := scanPromQL(e.expr)
		if len(u.selectors) == 0 {
			t.Errorf("%s: no metric found in %q", e.where, e.expr)
		}
		for _, sel := range u.selectors {
			used[sel.metric] = true
			checkSelector(t, known, e, sel)
		}
		checkGrouping(t, known, e, u)
	}
	for _, must := range []string{"wabus_sessions_by_state", "wabus_send_jobs_total", "wabus_send_latency_seconds_bucket",
		"wabus_outbox_backlog", "wabus_session_reconnects_total", "wabus_lease_acquisitions_total", "wabus_lease_losses_total",
		"wabus_inbound_events_total", "wabus_panics_recovered_total", "wabus_send_dlq_total", "wabus_session_logouts_total", "up"} {
		if !used[must] {
			t.Errorf("neither the dashboard nor the rules use %s", must)
		}
	}
}

// checkSelector fails when a selector's metric or one of its labels is
// not exposed.
func checkSelector(t *testing.T, known map[string]series, e expression, sel selector) {
	t.Helper()
	s, ok := known[sel.metric]
	if !ok {
		t.Errorf("%s: %s is not a metric the worker or admin registers (in %q)", e.where, sel.metric, e.expr)
		return
	}
	for _, l := range sel.labels {
		if !s.labels[l] && !scrapeLabels[l] {
			t.Errorf("%s: %s has no label %q (it has %v)", e.where, sel.metric, l, s.labelList())
		}
	}
}

// checkGrouping fails when a grouping label is on none of the
// expression's metrics.
func checkGrouping(t *testing.T, known map[string]series, e expression, u usage) {
	t.Helper()
	for _, l := range u.grouping {
		found := scrapeLabels[l]
		for _, sel := range u.selectors {
			found = found || known[sel.metric].labels[l]
		}
		if !found {
			t.Errorf("%s: grouping label %q is on none of the metrics of %q", e.where, l, e.expr)
		}
	}
}

var (
	jobSelector = regexp.MustCompile(`job\s*=~?\s*\\?"([^"\\]+)\\?"`)
	jobName     = regexp.MustCompile(`^\s*- job_name:\s*(\S+)`)
)

// TestPrometheusJobs checks that every job the dashboard and the rules
// select is one prometheus.yml scrapes (job=~ patterns are matched as
// regular expressions).
func TestPrometheusJobs(t *testing.T) {
	t.Parallel()
	var jobs []string
	for _, line := range strings.Split(readFile(t, prometheusFile), "\n") {
		if m := jobName.FindStringSubmatch(line); m != nil {
			jobs = append(jobs, unquote(m[1]))
		}
	}
	for _, e := range append(dashboardExprs(t), ruleExprs(t)...) {
		for _, m := range jobSelector.FindAllStringSubmatch(e.expr, -1) {
			re, err := regexp.Compile("^(?:" + m[1] + ")$")
			if err != nil {
				t.Errorf("%s: job selector %q: %v", e.where, m[1], err)
				continue
			}
			if !anyMatch(re, jobs) {
				t.Errorf("%s: job %q is not scraped by %s (jobs %v)", e.where, m[1], prometheusFile, jobs)
			}
		}
	}
}

func anyMatch(re *regexp.Regexp, names []string) bool {
	for _, n := range names {
		if re.MatchString(n) {
			return true
		}
	}
	return false
}
