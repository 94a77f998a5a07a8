package session

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/vocab"
)

type metrics struct {
	transitions *prometheus.CounterVec
	reconnects  prometheus.Counter
	logouts     prometheus.Counter
	panics      prometheus.Counter
	inbound     *prometheus.CounterVec

	// inboundFailures counts failed attempts at storing inbound events.
	inboundFailures *prometheus.CounterVec
	live            liveMetrics
	restricted      prometheus.Counter
}

var allStates = vocab.States

func newMetrics(reg prometheus.Registerer, m *Manager) (*metrics, error) {
	x := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabus_session_transitions_total", Help: "Session state changes, by the state entered.",
		}, []string{"state"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_session_reconnects_total", Help: "Reconnect attempts after a session dropped.",
		}),
		logouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_session_logouts_total", Help: "Devices WhatsApp logged out (401, device removed).",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_panics_recovered_total", Help: "Panics recovered in session handlers; the process lived on.",
		}),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabus_inbound_events_total", Help: "Inbound events made durable, by kind (message, receipt).",
		}, []string{"kind"}),
		inboundFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wabus_inbound_store_failures_total",
			Help: "Failed attempts at making an inbound event durable, by kind; after 3 in a row the connection is dropped so that WhatsApp delivers the event again.",
		}, []string{"kind"}),
		restricted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wabus_session_restricted_total", Help: "Messages WhatsApp refused with error 463: the account may not contact new numbers for now.",
		}),
	}
	sessions := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wabus_sessions", Help: "Sessions run by this worker.",
	}, func() float64 { m.mu.Lock(); defer m.mu.Unlock(); return float64(len(m.sessions)) })
	byState := &stateCollector{m: m, desc: prometheus.NewDesc("wabus_sessions_by_state", "Sessions run by this worker, by state.", []string{"state"}, nil)}
	for _, c := range []prometheus.Collector{x.transitions, x.reconnects, x.logouts, x.panics, x.inbound, x.inboundFailures, x.restricted, sessions, byState} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register session metrics: %w", err)
		}
	}
	if err := x.live.register(reg, m); err != nil {
		return nil, err
	}
	return x, nil
}

// stateCollector reports the sessions by state at scrape time.
type stateCollector struct {
	m    *Manager
	desc *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.m.states()
	for _, s := range allStates {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}
