package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/lease"
)

// origin is how a request reached this worker.
type origin bool

const (
	// taken is a request taken from the queue group: it may be forwarded.
	taken origin = false
	// forwarded is a request another worker forwarded here: it is answered
	// here, never forwarded again.
	forwarded origin = true
)

// tenantOp extracts tenant and op from <...>.<tenant>.<op>.
func tenantOp(subject string) (string, string) {
	var parts [2]string
	end := len(subject)
	for i := 1; i >= 0; i-- {
		j := end - 1
		for j >= 0 && subject[j] != '.' {
			j--
		}
		parts[i] = subject[j+1 : end]
		end = max(j, 0)
	}
	return parts[0], parts[1]
}

// onCtl answers a control request, or relays the owner's answer.
func (r *Router) onCtl(from origin) func(*nats.Msg) {
	return func(msg *nats.Msg) {
		tenant, op := tenantOp(msg.Subject)
		ctx, cancel := context.WithTimeout(r.ctx, deadline(op))
		defer cancel()
		if !bus.ValidTenant(tenant) {
			r.respond(msg, op, ctl.Errorf(ctl.CodeInvalid, "invalid tenant id"))
			return
		}
		var req ctl.Request
		if len(msg.Data) > 0 && json.Unmarshal(msg.Data, &req) != nil {
			r.respond(msg, op, ctl.Errorf(ctl.CodeInvalid, "body is not a JSON object"))
			return
		}
		if rep, ok := r.sessions.Ask(ctx, tenant, op, req); ok {
			r.respond(msg, op, rep)
			return
		}
		if from == forwarded {
			r.respond(msg, op, ctl.Errorf(ctl.CodeUnavailable, "tenant changed owner; try again"))
			return
		}
		r.acquire(ctx, msg, tenant, op, req)
	}
}

// acquire takes a tenant nobody runs here and answers its request, or
// forwards the request to the worker that holds the tenant.
func (r *Router) acquire(ctx context.Context, msg *nats.Msg, tenant, op string, req ctl.Request) {
	_, err := r.leases.Acquire(ctx, tenant)
	var held *lease.HeldError
	switch {
	case errors.As(err, &held):
		if err := r.forward(ctx, msg, r.ownerSubject(held.Owner, "ctl", tenant, op)); err != nil {
			r.respond(msg, op, ctl.Errorf(ctl.CodeUnavailable, err.Error()))
			return
		}
		r.metrics.ctl.WithLabelValues(opLabel(op), outcomeForwarded).Inc()
		return
	case errors.Is(err, lease.ErrUnknownTenant):
		r.respond(msg, op, ctl.Errorf(ctl.CodeNotFound, "unknown tenant"))
		return
	case err != nil:
		r.respond(msg, op, ctl.Errorf(ctl.CodeUnavailable, err.Error()))
		return
	}
	rep, ok := r.sessions.Ask(ctx, tenant, op, req)
	if !ok {
		rep = ctl.Errorf(ctl.CodeUnavailable, "session ended; try again")
	}
	r.respond(msg, op, rep)
}

// ownerSubject is where owner takes forwarded requests of kind (ctl, sim):
// <prefix>.worker.<owner>.<kind>.<tenant>.<op>.
func (r *Router) ownerSubject(owner, kind, tenant, op string) string {
	return r.cfg.Names.Worker(owner) + "." + kind + "." + tenant + "." + op
}

// respond answers msg with rep and counts it.
func (r *Router) respond(msg *nats.Msg, op string, rep ctl.Reply) {
	r.metrics.ctl.WithLabelValues(opLabel(op), outcome(rep.Code)).Inc()
	b, _ := json.Marshal(rep)
	_ = msg.Respond(b)
}

// forward relays msg to subject and passes the reply back verbatim. It
// returns an error when no reply came.
func (r *Router) forward(ctx context.Context, msg *nats.Msg, subject string) error {
	rep, err := r.nc.RequestWithContext(ctx, subject, msg.Data)
	if err != nil {
		return errors.New("owner did not answer: " + err.Error())
	}
	if err := msg.Respond(rep.Data); err != nil {
		r.log.Warn("relay control reply", slog.String("error", err.Error()))
	}
	return nil
}

// onSim routes a simulator request to the driver on the owner, or handles
// it here when nobody else owns the tenant.
func (r *Router) onSim(from origin) func(*nats.Msg) {
	return func(msg *nats.Msg) {
		tenant, op := tenantOp(msg.Subject)
		ctx, cancel := context.WithTimeout(r.ctx, ctlDeadline)
		defer cancel()
		if !bus.ValidTenant(tenant) {
			b, _ := json.Marshal(ctl.Errorf(ctl.CodeInvalid, "invalid tenant id"))
			_ = msg.Respond(b)
			return
		}
		if from == taken && r.forwardSim(ctx, msg, tenant, op) {
			return
		}
		c := r.cfg.Sim
		if msg.Reply != "" {
			_ = msg.Respond(c.Control(ctx, tenant, op, msg.Data))
		} else {
			c.Control(ctx, tenant, op, msg.Data)
		}
	}
}

// forwardSim forwards a simulator request to tenant's live owner when that
// is another worker, and reports whether it did.
func (r *Router) forwardSim(ctx context.Context, msg *nats.Msg, tenant, op string) bool {
	if r.sessions.Runs(tenant) {
		return false
	}
	owner, live, err := r.leases.Owner(ctx, tenant)
	if err != nil || !live || owner == r.cfg.WorkerID {
		return false
	}
	_ = r.forward(ctx, msg, r.ownerSubject(owner, "sim", tenant, op))
	return true
}
