package sim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/session/wa"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// events collects what a connection reports to its session.
type events chan wa.Event

func (e events) Handle(ev wa.Event) bool { e <- ev; return true }

// pairedDevice is a paired device that was never stored (as the device
// of a connection that only connects).
type pairedDevice string

func (d pairedDevice) JID() string                                       { return string(d) }
func (pairedDevice) Enrol(context.Context, string, string, string) error { return wa.ErrAlreadyPaired }
func (pairedDevice) Delete(context.Context) error                        { return nil }

// A second connection of a tenant replaces the first, as on WhatsApp: the
// first is told (StreamReplaced), and the notices name each connection, so
// an observer sees one live connection even when the same worker id
// connects again (a restarted process).
func TestConnectReplacesOlderConnection(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	notices := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe(s.Names.Sim("t1", "*"), notices)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	jid := deviceJID("t1")
	dial := func(worker string) (wa.Conn, events) {
		d, err := New(Config{WorkerID: worker, Names: s.Names}, s.Pool, nc, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		h := make(events, 16)
		c, err := d.Open("t1", pairedDevice(jid), h)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Disconnect)
		return c, h
	}
	type notice struct {
		Op, Worker, Conn, Reason string
	}
	next := func() notice {
		t.Helper()
		for {
			select {
			case m := <-notices:
				op := s.Names.Token(m.Subject, 2)
				if op != "connected" && op != "disconnected" {
					continue
				}
				var v struct {
					Worker, Reason string
					Conn           string `json:"conn_id"`
				}
				if err := json.Unmarshal(m.Data, &v); err != nil {
					t.Fatal(err)
				}
				return notice{op, v.Worker, v.Conn, v.Reason}
			case <-ctx.Done():
				t.Fatal("no notice")
			}
		}
	}

	_, first := dial("w1")
	n1 := next()
	if n1.Op != "connected" || n1.Worker != "w1" || n1.Conn == "" {
		t.Fatalf("first notice = %+v, want connected by w1 with a conn id", n1)
	}
	dial("w1") // the same worker id again: a restarted process
	n2, n3 := next(), next()
	if n2 != (notice{"disconnected", "w1", n1.Conn, "replaced"}) {
		t.Fatalf("second notice = %+v, want the first connection replaced", n2)
	}
	if n3.Op != "connected" || n3.Conn == "" || n3.Conn == n1.Conn {
		t.Fatalf("third notice = %+v, want a new connection", n3)
	}
	for {
		select {
		case ev := <-first:
			if _, ok := ev.(wa.StreamReplaced); ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("the first connection was not told it was replaced")
		}
	}
}

// An inbound message accepted by a worker that does not hold the tenant's
// live connection (a request routed to a worker that is losing the tenant)
// is announced on the tenant's wake subject, and a wake pokes the live
// connection wherever it is, which then delivers what the server holds.
func TestInboundAcceptedElsewhereWakesTheLiveConnection(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wakes := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(s.Names.Sim("t1", "wake"), wakes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	accepting, err := New(Config{WorkerID: "w1", Names: s.Names}, s.Pool, nc, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = accepting.Close() })

	if rep := accepting.Control(ctx, "t1", "inbound", []byte(`{"from": "+51911222333", "text": "hola", "id": "IN1"}`)); string(rep) != "{}" {
		t.Fatalf("inbound: %s", rep)
	}
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_sim_inbound WHERE tenant = 't1' AND id = 'IN1'`); n != 1 {
		t.Fatal("the message is not held by the simulated server")
	}
	select {
	case <-wakes:
	case <-ctx.Done():
		t.Fatal("accepting the message woke nobody")
	}

	// the worker holding the live connection is poked by the wake
	holding := &Driver{cfg: Config{Names: s.Names}, conns: map[string]*conn{}}
	live := &conn{tenant: "t1", wake: make(chan struct{}, 1)}
	holding.register(live)
	holding.onWake(&nats.Msg{Subject: s.Names.Sim("t1", "wake")})
	if len(live.wake) != 1 {
		t.Fatal("a wake did not poke the live connection")
	}
	holding.onWake(&nats.Msg{Subject: s.Names.Sim("t2", "wake")}) // not here: nothing happens
}
