package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/bus"
	"github.com/wabus/wabus/internal/ctl"
	"github.com/wabus/wabus/internal/lease"
	"github.com/wabus/wabus/internal/session/wa"
)

// ctlDeadline is how long a control request may take here; admin waits a
// little longer, so it always gets an answer.
const ctlDeadline = 1800 * time.Millisecond

// pairPhoneDeadline is ctlDeadline for pair-phone: the driver's PairPhone
// first waits for the pairing socket to be ready (wmdriver's
// PairReadyTimeout, 15s by default), then asks WhatsApp for the code.
// Admin waits longer (its PairPhoneWait, 25s by default).
const pairPhoneDeadline = 20 * time.Second

// deadline is how long a control request for op may take here.
func deadline(op string) time.Duration {
	if op == ctl.OpPairPhone {
		return pairPhoneDeadline
	}
	return ctlDeadline
}

const queueGroup = "wabus-workers"

// subscribe listens for control requests: any worker takes a request from
// the queue group and forwards it to the owner's private subject.
func (m *Manager) subscribe() ([]*nats.Subscription, error) {
	n, nc := m.deps.Names, m.deps.NATS
	private := n.Worker(m.cfg.WorkerID)
	type sub struct {
		subject, queue string
		fn             func(*nats.Msg)
	}
	subs := []sub{
		{n.Ctl("*", "*"), queueGroup, m.async(m.onCtl(false))},
		{private + ".ctl.*.*", "", m.async(m.onCtl(true))},
	}
	if c, ok := m.deps.Driver.(wa.Controller); ok {
		for _, op := range c.ControlOps() {
			subs = append(subs, sub{n.Sim("*", op), queueGroup, m.async(m.onSim(c, false))})
		}
		subs = append(subs, sub{private + ".sim.*.*", "", m.async(m.onSim(c, true))})
	}
	var out []*nats.Subscription
	for _, s := range subs {
		ns, err := nc.QueueSubscribe(s.subject, s.queue, s.fn)
		if err != nil {
			for _, o := range out {
				_ = o.Unsubscribe()
			}
			return nil, err
		}
		out = append(out, ns)
	}
	return out, nil
}

// async runs each request in its own goroutine, so that a slow one (a
// pairing waiting for its first code) does not hold up the others.
func (m *Manager) async(fn func(*nats.Msg)) func(*nats.Msg) {
	return func(msg *nats.Msg) { m.ctlWG.Go(func() { fn(msg) }) }
}

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

func (m *Manager) onCtl(forwarded bool) func(*nats.Msg) {
	return func(msg *nats.Msg) {
		tenant, op := tenantOp(msg.Subject)
		ctx, cancel := context.WithTimeout(m.ctlCtx, deadline(op))
		defer cancel()
		var rep ctl.Reply
		if !bus.ValidTenant(tenant) {
			rep = ctl.Errorf(ctl.CodeInvalid, "invalid tenant id")
		} else {
			rep = m.control(ctx, msg, tenant, op, forwarded)
		}
		m.metrics.ctl.WithLabelValues(opLabel(op), cmpCode(rep.Code)).Inc()
		if rep.Code == "forwarded" {
			return
		}
		b, _ := json.Marshal(rep)
		_ = msg.Respond(b)
	}
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

func cmpCode(c string) string {
	if c == "" {
		return "ok"
	}
	return c
}

// control answers a control request here, forwards it to the owner, or
// acquires the tenant first when nobody owns it.
func (m *Manager) control(ctx context.Context, msg *nats.Msg, tenant, op string, forwarded bool) ctl.Reply {
	var req ctl.Request
	if len(msg.Data) > 0 && json.Unmarshal(msg.Data, &req) != nil {
		return ctl.Errorf(ctl.CodeInvalid, "body is not a JSON object")
	}
	if s := m.session(tenant); s != nil {
		return s.ask(ctx, newRequest(op, req.Phone))
	}
	if forwarded {
		return ctl.Errorf(ctl.CodeUnavailable, "tenant changed owner; try again")
	}
	_, err := m.keeper.Acquire(ctx, tenant)
	var held *lease.HeldError
	switch {
	case errors.As(err, &held):
		return m.forward(ctx, msg, held.CtlSubject+".ctl."+tenant+"."+op)
	case errors.Is(err, lease.ErrUnknownTenant):
		return ctl.Errorf(ctl.CodeNotFound, "unknown tenant")
	case err != nil:
		return ctl.Errorf(ctl.CodeUnavailable, err.Error())
	}
	s := m.session(tenant)
	if s == nil {
		return ctl.Errorf(ctl.CodeUnavailable, "session ended; try again")
	}
	return s.ask(ctx, newRequest(op, req.Phone))
}

// forward relays msg to the owner and passes its reply back verbatim.
func (m *Manager) forward(ctx context.Context, msg *nats.Msg, subject string) ctl.Reply {
	rep, err := m.deps.NATS.RequestWithContext(ctx, subject, msg.Data)
	if err != nil {
		return ctl.Errorf(ctl.CodeUnavailable, "owner did not answer: "+err.Error())
	}
	if err := msg.Respond(rep.Data); err != nil {
		m.log.Warn("relay control reply", slog.String("error", err.Error()))
	}
	return ctl.Reply{Code: "forwarded"}
}

// onSim routes a simulator request to the driver on the owner, or handles
// it here when nobody owns the tenant.
func (m *Manager) onSim(c wa.Controller, forwarded bool) func(*nats.Msg) {
	return func(msg *nats.Msg) {
		tenant, op := tenantOp(msg.Subject)
		ctx, cancel := context.WithTimeout(m.ctlCtx, ctlDeadline)
		defer cancel()
		if !bus.ValidTenant(tenant) {
			b, _ := json.Marshal(ctl.Errorf(ctl.CodeInvalid, "invalid tenant id"))
			_ = msg.Respond(b)
			return
		}
		if m.session(tenant) == nil && !forwarded {
			owner, subject, live, err := m.keeper.Owner(ctx, tenant)
			if err == nil && live && owner != m.cfg.WorkerID && subject != "" {
				m.forward(ctx, msg, subject+".sim."+tenant+"."+op)
				return
			}
		}
		if msg.Reply != "" {
			_ = msg.Respond(c.Control(ctx, tenant, op, msg.Data))
		} else {
			c.Control(ctx, tenant, op, msg.Data)
		}
	}
}
