package session

import (
	"context"

	"github.com/wabus/wabus/internal/ctl"
)

// request is a control request handed to a session's run loop.
type request struct {
	op    string
	phone string
	reply chan ctl.Reply // buffered 1; answered once
}

func newRequest(op, phone string) *request {
	return &request{op: op, phone: phone, reply: make(chan ctl.Reply, 1)}
}

func (r *request) answer(rep ctl.Reply) {
	select {
	case r.reply <- rep:
	default: // already answered
	}
}

// ask hands req to the run loop and waits for the answer until ctx ends.
func (s *Session) ask(ctx context.Context, req *request) ctl.Reply {
	select {
	case s.requests <- req:
	case <-s.done:
		return ctl.Errorf(ctl.CodeUnavailable, "session ended; try again")
	case <-ctx.Done():
		return ctl.Errorf(ctl.CodeTimeout, "session busy; try again")
	}
	select {
	case rep := <-req.reply:
		return rep
	case <-s.done:
		return ctl.Errorf(ctl.CodeUnavailable, "session ended; try again")
	case <-ctx.Done():
		return ctl.Reply{State: s.State(), Code: ctl.CodeTimeout, Error: "no answer in time; the operation goes on"}
	}
}
