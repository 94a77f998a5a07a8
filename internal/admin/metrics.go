package admin

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/tenant"
	"github.com/wabus/wabus/internal/vocab"
)

// metrics are the request metrics, labelled by route pattern (never by
// tenant, so their cardinality is bounded by the route table).
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabus_admin_requests_total",
			Help: "Admin HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wabus_admin_request_duration_seconds",
			Help:    "Admin HTTP request latency by route pattern (pairing streams last as long as the pairing).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180},
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register admin metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}

// tenantStates reports every tenant by state at scrape time, read from
// Postgres as the sessions routes show it (a state that needs a live owner
// counts as disconnected once the owner's lease has expired). The workers'
// wabus_sessions_by_state counts only the sessions they run, so tenants
// that need a person (unpaired, logged_out) are seen here. Admin is a
// single process, so nothing is counted twice.
type tenantStates struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	desc *prometheus.Desc
}

func newTenantStates(pool *pgxpool.Pool, log *slog.Logger) *tenantStates {
	return &tenantStates{pool: pool, log: log, desc: prometheus.NewDesc("wabus_tenants_by_state",
		"Tenants by session state, from Postgres (every tenant, run or not).", []string{"state"}, nil)}
}

// allStates are reported even at zero, so that alerts see a series.
var allStates = vocab.States

func (c *tenantStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect reports nothing when Postgres does not answer within 2s (a gap,
// not a false zero).
func (c *tenantStates) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := tenant.CountByState(ctx, c.pool)
	if err != nil {
		c.log.Warn("count tenants by state", slog.String("error", err.Error()))
		return
	}
	for _, s := range allStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
