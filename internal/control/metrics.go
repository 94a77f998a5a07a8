package control

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wabus/wabus/internal/ctl"
)

type metrics struct {
	ctl *prometheus.CounterVec
}

// outcomeForwarded is the code label of a request relayed to its owner,
// which counts the request again under its own outcome.
const outcomeForwarded = "forwarded"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{ctl: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wabus_ctl_requests_total", Help: "Control requests handled, by operation and outcome code (ok or an error code).",
	}, []string{"op", "code"})}
	if err := reg.Register(m.ctl); err != nil {
		return nil, fmt.Errorf("register control metrics: %w", err)
	}
	return m, nil
}

// opLabel keeps the metric's op label to the known operations, whatever
// subjects someone publishes.
func opLabel(op string) string {
	switch op {
	case ctl.OpPair, ctl.OpPairPhone, ctl.OpLogout, ctl.OpReconnect:
		return op
	}
	return "other"
}

// outcome is the code label of a reply: ok, or its error code.
func outcome(code string) string {
	if code == "" {
		return "ok"
	}
	return code
}
