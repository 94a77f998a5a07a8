package admin

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/tenant"
)

// Bounds of a tenant's own send rate limit.
const (
	maxSendRate  = 6000 // messages a minute
	maxSendBurst = 1000
)

// limits is the optional body of PUT /v1/sessions/{tenant}: the tenant's
// own send rate limit, and whether it is paused. A field left out is left
// as it is; a null limit removes the tenant's own value, so the workers'
// default applies again.
type limits struct {
	rate, burst       *float64 // the new values when set and not null
	hasRate, hasBurst bool     // the field was in the body
	paused            *bool    // set when "paused" was in the body
}

// parseLimits reads the optional limits body; an empty body sets nothing.
func parseLimits(r *http.Request) (limits, error) {
	var l limits
	body, err := readBody(r)
	if err != nil || strings.TrimSpace(string(body)) == "" {
		return l, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "body must be a JSON object: %s", jsonProblem(err))
	}
	for name, raw := range fields {
		if name == "paused" {
			var p *bool
			if err := json.Unmarshal(raw, &p); err != nil || p == nil {
				return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "paused must be true or false")
			}
			l.paused = p
			continue
		}
		var v *float64
		if err := json.Unmarshal(raw, &v); err != nil {
			return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "%s must be a number or null", name)
		}
		switch name {
		case "send_rate":
			if v != nil && (*v < 0 || *v > maxSendRate || math.IsNaN(*v)) {
				return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "send_rate must be 0 (no limit) to %d messages a minute, or null", maxSendRate)
			}
			l.rate, l.hasRate = v, true
		case "send_burst":
			if v != nil && (*v < 1 || *v > maxSendBurst || *v != math.Trunc(*v)) {
				return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "send_burst must be a whole number from 1 to %d, or null", maxSendBurst)
			}
			l.burst, l.hasBurst = v, true
		default:
			return l, errorf(http.StatusBadRequest, CodeInvalidRequest, "unknown field %q (want send_rate, send_burst, paused)", name)
		}
	}
	return l, nil
}

// store writes the settings given, if any. The tenant's worker applies a
// limit within its next limits check (half a minute) and a pause from its
// next claim on; a resumed tenant's owner is rung at once.
func (l limits) store(ctx context.Context, s *Server, id string) error {
	if !l.hasRate && !l.hasBurst && l.paused == nil {
		return nil
	}
	var burst *int
	if l.burst != nil {
		b := int(*l.burst)
		burst = &b
	}
	err := tenant.SetLimits(ctx, s.pool, id, tenant.Limits{SetRate: l.hasRate, Rate: l.rate, SetBurst: l.hasBurst,
		Burst: burst, Paused: l.paused})
	if err != nil {
		return err
	}
	if l.paused != nil && !*l.paused {
		// a lost bell is made up for by the owner's periodic check
		body, _ := json.Marshal(bus.BellMessage{Tenants: []string{id}})
		_ = s.nc.Publish(s.names.Bell(), body)
	}
	return nil
}
