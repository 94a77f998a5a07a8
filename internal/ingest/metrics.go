package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	jobs    prometheus.Counter
	batch   prometheus.Histogram
	held    prometheus.Gauge
	invalid prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_ingest_jobs_total", Help: "Messages taken from the send stream into the job table (duplicates and jobs that failed at once included).",
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wabus_ingest_commit_seconds", Help: "Time to commit one batch of ingested jobs.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wabus_ingest_partitions", Help: "Partitions of the send stream this worker reads.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_send_invalid_subject_total", Help: "Messages on a send subject whose tenant token is not a valid tenant id; dropped at ingest.",
		}),
	}
	for _, c := range []prometheus.Collector{m.jobs, m.batch, m.held, m.invalid} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}
