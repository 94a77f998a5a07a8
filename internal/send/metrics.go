package send

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	jobs    *prometheus.CounterVec
	latency prometheus.Histogram
	retries prometheus.Counter
	dlq     prometheus.Counter
	replays prometheus.Counter
	panics  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabus_send_jobs_total", Help: "Send jobs by outcome (sent, failed) and failure code (ok when sent).",
		}, []string{"outcome", "code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wabus_send_latency_seconds", Help: "Time from a job's publish to its sent outcome being recorded.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_send_retries_total", Help: "Transient send failures retried after a delay.",
		}),
		dlq: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_send_dlq_total", Help: "Jobs that failed for good and were copied to the DLQ stream.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_send_replays_total", Help: "Jobs published again after their outcome was recorded; not sent again, their event re-emitted.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_send_panics_recovered_total", Help: "Panics recovered while handling a job; the job failed with send_failed into the DLQ.",
		}),
	}
	for _, c := range []prometheus.Collector{m.jobs, m.latency, m.retries, m.dlq, m.replays, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register send metrics: %w", err)
		}
	}
	return m, nil
}
