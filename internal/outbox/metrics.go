package outbox

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type relayMetrics struct {
	published    prometheus.Counter
	errors       prometheus.Counter
	backlog      prometheus.Gauge
	batchSeconds prometheus.Histogram
}

func newRelayMetrics(reg prometheus.Registerer) (*relayMetrics, error) {
	m := &relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_outbox_published_total",
			Help: "Events published from the outbox and acknowledged by JetStream.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_outbox_publish_errors_total",
			Help: "Outbox batches that failed (NATS or Postgres unavailable); the rows are retried.",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wabus_outbox_backlog",
			Help: "Events waiting in the outbox to be published.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wabus_outbox_batch_seconds",
			Help:    "Time to publish one outbox batch and receive its acks.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	for _, c := range []prometheus.Collector{m.published, m.errors, m.backlog, m.batchSeconds} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register outbox metrics: %w", err)
		}
	}
	return m, nil
}
