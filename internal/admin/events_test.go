package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// TestEventsTail checks the events stream: the tenant's last 50 events
// first, in order and no other tenant's, then new ones; ?kinds= filters.
func TestEventsTail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Heartbeat: 100 * time.Millisecond})
	for _, tenant := range []string{"t1", "t2"} {
		wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/"+tenant, nil), http.StatusCreated)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	publish := func(tenant string, kind vocab.EventKind, n int) {
		t.Helper()
		subject := e.stack.Names.Event(tenant, kind)
		data := fmt.Sprintf(`{"specversion":"1.0","id":"%s-%d","source":"wa/%s","type":"wa.test","data":{"n":%d}}`, tenant, n, tenant, n)
		if _, err := e.stack.JS.Publish(ctx, subject, []byte(data)); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}
	// 70 events of t1 (sent and receipt alternating) between 70 of t2.
	for n := range 70 {
		publish("t1", []vocab.EventKind{vocab.EventSent, vocab.EventReceipt}[n%2], n)
		publish("t2", vocab.EventSent, n)
	}

	all := e.openSSE(t, "/v1/sessions/t1/events")
	for n := 20; n < 70; n++ {
		ev := all.next(t, 10*time.Second)
		if want := []string{"sent", "receipt"}[n%2]; ev.name != want || ev.data["id"] != fmt.Sprintf("t1-%d", n) {
			t.Fatalf("backlog event %d: %s %v, want %s t1-%d", n, ev.name, ev.data["id"], want, n)
		}
	}
	// Only 35 of them are sent events: the filtered tail has them all.
	sent := e.openSSE(t, "/v1/sessions/t1/events?kinds=sent")
	for n := 0; n < 70; n += 2 {
		ev := sent.next(t, 10*time.Second)
		if ev.name != "sent" || ev.data["id"] != fmt.Sprintf("t1-%d", n) {
			t.Fatalf("sent backlog: %s %v, want sent t1-%d", ev.name, ev.data["id"], n)
		}
	}
	publish("t2", vocab.EventSent, 70)
	publish("t1", vocab.EventReceipt, 71)
	publish("t1", vocab.EventSent, 72)
	if ev := all.next(t, 10*time.Second); ev.name != "receipt" || ev.data["id"] != "t1-71" {
		t.Fatalf("live event %s %v, want receipt t1-71", ev.name, ev.data["id"])
	}
	if ev := all.next(t, 10*time.Second); ev.data["id"] != "t1-72" {
		t.Fatalf("live event %s %v, want t1-72", ev.name, ev.data["id"])
	}
	// The sent-only stream skipped the receipt.
	if ev := sent.next(t, 10*time.Second); ev.name != "sent" || ev.data["id"] != "t1-72" {
		t.Fatalf("sent-only live event %s %v, want sent t1-72", ev.name, ev.data["id"])
	}

	// A tenant with fewer than 50 events gets all of them.
	few := e.openSSE(t, "/v1/sessions/t2/events?kinds=sent,sent")
	for n := 21; n <= 70; n++ {
		if ev := few.next(t, 10*time.Second); ev.data["id"] != fmt.Sprintf("t2-%d", n) {
			t.Fatalf("t2 event %v, want t2-%d", ev.data["id"], n)
		}
	}
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/quiet", nil), http.StatusCreated)
	quiet := e.openSSE(t, "/v1/sessions/quiet/events")
	testenv.Eventually(t, 10*time.Second, "a keep-alive on a quiet tail", func() bool { return quiet.comments.Load() > 0 })

	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/t1/events?kinds=sent,bogus", nil), http.StatusBadRequest, CodeInvalidRequest)
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/nobody/events", nil), http.StatusNotFound, CodeNotFound)
	wantError(t, e.doAuth(t, http.MethodGet, "/v1/sessions/t1/events", nil, "Bearer wrong"), http.StatusUnauthorized, CodeUnauthorized)
}

// TestEventsTailLive follows a real send through the simulator: the sent
// event shows up in the tail of a stream opened before the job.
func TestEventsTailLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	e.pair(t, "t1")
	tail := e.openSSE(t, "/v1/sessions/t1/events?kinds=sent")
	wantStatus(t, e.do(t, http.MethodPost, "/v1/sessions/t1/messages",
		map[string]any{"id": "tail-1", "to": "+51987654321", "text": "hola"}), http.StatusAccepted)
	ev := tail.next(t, 30*time.Second)
	data, _ := ev.data["data"].(map[string]any)
	if ev.name != "sent" || ev.data["type"] != "wa.message.sent" || data["job_id"] != "tail-1" {
		t.Fatalf("tail got %s %v, want the sent event of tail-1", ev.name, ev.data)
	}
}
