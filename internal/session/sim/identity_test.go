package sim_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

// decoded returns the data of tenant's events of kind, in order.
func decoded[T any](t testing.TB, s *testenv.Stack, tenant string, kind vocab.EventKind) []T {
	t.Helper()
	var out []T
	for _, m := range testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Event(tenant, kind)) {
		var ev event.Event
		var d T
		if err := json.Unmarshal(m.Data(), &ev); err != nil || json.Unmarshal(ev.Data, &d) != nil {
			t.Fatalf("bad %s event %s", kind, m.Data())
		}
		out = append(out, d)
	}
	return out
}

func sendJob(t testing.TB, s *testenv.Stack, tenant, id, to string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"id": id, "to": to, "text": "hola " + id})
	if _, err := s.JS.Publish(context.Background(), s.Names.Send(tenant), b, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
}

// sentTo returns the sent events of tenant by job id.
func sentTo(t testing.TB, s *testenv.Stack, tenant string) map[string]event.Sent {
	t.Helper()
	out := map[string]event.Sent{}
	for _, e := range decoded[event.Sent](t, s, tenant, vocab.EventSent) {
		out[e.JobID] = e
	}
	return out
}

// While restricted, a job to a number the tenant never wrote to nor heard
// from fails at once with code restricted (nothing delivered) and the
// session reports it; the jobs behind it, to known numbers, go; lifting the
// restriction lets new numbers through again.
func TestSimRestrictRefusesNewContacts(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	restrict := s.Names.Sim("acme", "restrict")

	sendJob(t, s, "acme", "first", "+51987654321")
	testenv.Eventually(t, 20*time.Second, "first sent", func() bool { _, ok := sentTo(t, s, "acme")["first"]; return ok })
	if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51911111111", "text": "hola", "id": "IN1"}); rep.Error != "" {
		t.Fatalf("inbound: %+v", rep)
	}
	if rep := workertest.Request(t, nc, restrict, map[string]int{"seconds": 3600}); rep.Error != "" {
		t.Fatalf("restrict: %+v", rep)
	}

	sendJob(t, s, "acme", "stranger", "+51922222222")
	sendJob(t, s, "acme", "wrote-before", "+51987654321")
	sendJob(t, s, "acme", "heard-from", "51911111111@s.whatsapp.net")
	testenv.Eventually(t, 20*time.Second, "jobs behind the refused one sent", func() bool {
		sent := sentTo(t, s, "acme")
		_, a := sent["wrote-before"]
		_, b := sent["heard-from"]
		return a && b
	})
	// outcomes and session events reach the stream through the outbox:
	// wait for them before reading them
	testenv.Eventually(t, 20*time.Second, "the refused job's failed event and the restricted session event", func() bool {
		restricted := 0
		for _, e := range decoded[event.Session](t, s, "acme", vocab.EventSession) {
			if strings.HasPrefix(e.Reason, event.ReasonRestricted) {
				restricted++
			}
		}
		return len(decoded[event.Failed](t, s, "acme", vocab.EventFailed)) > 0 && restricted > 0
	})
	failed := decoded[event.Failed](t, s, "acme", vocab.EventFailed)
	if len(failed) != 1 || failed[0].JobID != "stranger" || failed[0].Code != event.CodeRestricted || failed[0].Attempts != 1 {
		t.Fatalf("failed events %+v, want the stranger job restricted after one attempt", failed)
	}
	for _, d := range deliveries.All() {
		if d.JobID == "stranger" {
			t.Fatal("the refused message was delivered")
		}
	}
	var reasons []string
	for _, e := range decoded[event.Session](t, s, "acme", vocab.EventSession) {
		if strings.HasPrefix(e.Reason, event.ReasonRestricted) {
			if e.State != vocab.StateConnected {
				t.Errorf("restricted session event in state %q, want connected", e.State)
			}
			reasons = append(reasons, e.Reason)
		}
	}
	if len(reasons) != 1 {
		t.Fatalf("restricted session events %q, want one", reasons)
	}

	if rep := workertest.Request(t, nc, restrict, map[string]int{"seconds": 0}); rep.Error != "" {
		t.Fatalf("lift: %+v", rep)
	}
	sendJob(t, s, "acme", "stranger-later", "+51922222222")
	testenv.Eventually(t, 20*time.Second, "new number after the lift", func() bool { _, ok := sentTo(t, s, "acme")["stranger-later"]; return ok })

	// a restriction lasts the seconds asked for
	if rep := workertest.Request(t, nc, restrict, map[string]int{"seconds": 90}); rep.Error != "" {
		t.Fatalf("restrict: %+v", rep)
	}
	left := testenv.QueryInt(t, s.Pool, `SELECT ceil(extract(epoch FROM until - now()))::bigint FROM wabus_sim_restriction WHERE tenant = 'acme'`)
	if left < 85 || left > 90 {
		t.Fatalf("restriction ends in %ds, want 90", left)
	}
	for _, bad := range []any{map[string]int{"seconds": -1}, map[string]int{"seconds": 31 * 24 * 3600}, map[string]string{"seconds": "x"}, nil} {
		if rep := workertest.Request(t, nc, restrict, bad); rep.Code != "invalid_request" {
			t.Errorf("restrict %v = %+v, want invalid_request", bad, rep)
		}
	}
}

// A contact writing from a LID-addressed chat is still named by phone
// number, with its LID beside, in its message and in the receipts of what
// the tenant sends it, whose sent event names the LID it was delivered to.
func TestSimInboundFromLIDChat(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	workertest.Pair(t, s, nc, "acme")
	body := map[string]any{"from": "+51987654321", "text": "hola", "id": "LID1", "lid": true, "push_name": "Ana"}
	if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), body); rep.Error != "" {
		t.Fatalf("inbound: %+v", rep)
	}
	if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51911111111", "text": "hi", "id": "PN1"}); rep.Error != "" {
		t.Fatalf("inbound: %+v", rep)
	}
	testenv.Eventually(t, 20*time.Second, "message events", func() bool { return len(decoded[event.Message](t, s, "acme", vocab.EventMessage)) == 2 })
	const pn = "51987654321@s.whatsapp.net"
	lid := sim.ContactLID("+51987654321")
	if !strings.HasSuffix(lid, "@lid") || lid != sim.ContactLID("51987654321") {
		t.Fatalf("contact LID %q is not a stable LID", lid)
	}
	for _, m := range decoded[event.Message](t, s, "acme", vocab.EventMessage) {
		switch m.MessageID {
		case "LID1":
			if m.Sender != pn || m.Chat != pn || m.SenderLID != lid || m.ChatLID != lid || m.PushName != "Ana" || m.Text != "hola" {
				t.Errorf("LID message %+v, want %s with LID %s from Ana", m, pn, lid)
			}
		case "PN1":
			if m.SenderLID != "" || m.ChatLID != "" || m.PushName != "" {
				t.Errorf("phone-addressed message %+v has a LID or push name", m)
			}
		}
	}

	sendJob(t, s, "acme", "reply", "+51987654321")
	testenv.Eventually(t, 20*time.Second, "sent", func() bool { _, ok := sentTo(t, s, "acme")["reply"]; return ok })
	if e := sentTo(t, s, "acme")["reply"]; e.ToJID != lid || e.To != "+51987654321" {
		t.Fatalf("sent event %+v, want to_jid %s", e, lid)
	}
	testenv.Eventually(t, 20*time.Second, "receipts", func() bool { return len(decoded[event.Receipt](t, s, "acme", vocab.EventReceipt)) == 2 })
	for _, r := range decoded[event.Receipt](t, s, "acme", vocab.EventReceipt) {
		if r.Sender != pn || r.Chat != pn || r.SenderLID != lid || r.ChatLID != lid {
			t.Errorf("receipt %+v, want %s with LID %s", r, pn, lid)
		}
	}
	sendJob(t, s, "acme", "other", "+51911111111")
	testenv.Eventually(t, 20*time.Second, "sent", func() bool { _, ok := sentTo(t, s, "acme")["other"]; return ok })
	if e := sentTo(t, s, "acme")["other"]; e.ToJID != "51911111111@s.whatsapp.net" {
		t.Fatalf("sent event to a phone-addressed chat %+v, want its phone JID as to_jid", e)
	}
	if rep := workertest.Request(t, nc, s.Names.Sim("acme", "inbound"), map[string]string{"from": "+51911111111", "push_name": strings.Repeat("x", 257)}); rep.Code != "invalid_request" {
		t.Fatalf("inbound with a long push_name = %+v, want invalid_request", rep)
	}
}
