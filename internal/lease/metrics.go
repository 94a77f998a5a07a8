package lease

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	acquired, lost, released, renewErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		acquired:    prometheus.NewCounter(prometheus.CounterOpts{Name: "wabus_lease_acquisitions_total", Help: "Tenant leases acquired by this worker."}),
		lost:        prometheus.NewCounter(prometheus.CounterOpts{Name: "wabus_lease_losses_total", Help: "Tenant leases lost (taken over or not renewed in time)."}),
		released:    prometheus.NewCounter(prometheus.CounterOpts{Name: "wabus_lease_releases_total", Help: "Tenant leases given up gracefully (rebalance, shutdown, logout)."}),
		renewErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "wabus_lease_renew_errors_total", Help: "Lease renewals that failed (Postgres unavailable)."}),
	}
	for _, c := range []prometheus.Collector{m.acquired, m.lost, m.released, m.renewErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register lease metrics: %w", err)
		}
	}
	return m, nil
}
