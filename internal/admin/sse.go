package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wabus/wabus/internal/ctl"
)

// sseWriter writes Server-Sent Events, flushing each one.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startSSE sends the headers of an event stream.
func startSSE(w http.ResponseWriter) (*sseWriter, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	e := &sseWriter{w: w, rc: http.NewResponseController(w)}
	return e, e.rc.Flush()
}

// event writes one event: its name and one data line of JSON.
func (e *sseWriter) event(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", name, err)
	}
	return e.raw(name, data)
}

// raw writes one event whose data is already one line of JSON.
func (e *sseWriter) raw(name string, data []byte) error {
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", name, data); err != nil {
		return err
	}
	return e.rc.Flush()
}

// comment writes a comment line, which clients ignore.
func (e *sseWriter) comment(text string) error {
	if _, err := fmt.Fprintf(e.w, ": %s\n\n", text); err != nil {
		return err
	}
	return e.rc.Flush()
}

// Data of the pairing stream's events (CONTRACT).
type (
	qrEvent struct {
		Code      string `json:"code"`
		PNG       string `json:"png"`
		ExpiresIn int    `json:"expires_in"`
	}
	stateEvent struct {
		State string `json:"state"`
	}
	pairedEvent struct {
		JID string `json:"jid"`
	}
)

// pairStream answers GET /v1/sessions/{tenant}/qr with the pairing as
// Server-Sent Events: qr for every code, state, then paired or timeout,
// after which the stream ends. A tenant that is paired already gets state
// and paired at once. Errors before the stream starts (unknown tenant, no
// worker) are answered as JSON.
func (s *Server) pairStream(w http.ResponseWriter, r *http.Request, tenant string) error {
	ctx := r.Context()
	if err := s.mustExist(ctx, tenant); err != nil {
		return err
	}
	watch, rep, err := s.beginPairing(ctx, tenant)
	if err != nil {
		return err
	}
	defer watch.stop()
	out, err := startSSE(w)
	if err != nil {
		return nil // the client is gone
	}
	p := &pairingStream{s: s, out: out, watch: watch}
	_ = p.run(ctx, rep) // a write error means the client is gone
	return nil
}

// pairingStream is one client's pairing stream.
type pairingStream struct {
	s        *Server
	out      *sseWriter
	watch    *pairWatch
	lastCode string
}

// run sends what the pair reply says, then relays pairing events until
// the pairing ends, the client leaves or PairWait passes.
func (p *pairingStream) run(ctx context.Context, rep ctl.Reply) error {
	if paired(rep) {
		if err := p.out.event(ctl.PairingState, stateEvent{State: rep.State}); err != nil {
			return err
		}
		return p.out.event(ctl.PairingPaired, pairedEvent{JID: rep.JID})
	}
	if rep.QR != "" {
		if err := p.qr(rep.QR, rep.ExpiresIn); err != nil {
			return err
		}
	}
	first := time.NewTimer(p.s.cfg.QRWait)
	defer first.Stop()
	deadline := time.NewTimer(p.s.cfg.PairWait)
	defer deadline.Stop()
	beat := time.NewTicker(p.s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		firstC := first.C
		if p.lastCode != "" {
			firstC = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-beat.C:
			if err := p.out.comment("keep-alive"); err != nil {
				return err
			}
		case <-firstC:
			return p.out.event(ctl.PairingTimeout, struct{}{})
		case <-deadline.C:
			return p.out.event(ctl.PairingTimeout, struct{}{})
		case m := <-p.watch.ch:
			var ev ctl.PairingEvent
			if json.Unmarshal(m.Data, &ev) != nil {
				continue
			}
			if done, err := p.relay(ev); done || err != nil {
				return err
			}
		}
	}
}

// relay sends one pairing event; done is true once the stream must end.
func (p *pairingStream) relay(ev ctl.PairingEvent) (done bool, err error) {
	switch ev.Event {
	case ctl.PairingQR:
		if ev.Code == "" || ev.Code == p.lastCode {
			return false, nil // the code the pair reply carried
		}
		return false, p.qr(ev.Code, ev.ExpiresIn)
	case ctl.PairingState:
		return false, p.out.event(ctl.PairingState, stateEvent{State: ev.State})
	case ctl.PairingPaired:
		return true, p.out.event(ctl.PairingPaired, pairedEvent{JID: ev.JID})
	case ctl.PairingTimeout:
		return true, p.out.event(ctl.PairingTimeout, struct{}{})
	}
	return false, nil
}

// qr sends a qr event with the code rendered as a PNG data URL.
func (p *pairingStream) qr(code string, expiresIn int) error {
	png, err := p.s.qrDataURL(code)
	if err != nil {
		return err
	}
	p.lastCode = code
	return p.out.event(ctl.PairingQR, qrEvent{Code: code, PNG: png, ExpiresIn: expiresIn})
}
