package send_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/testing/workertest"
	"github.com/wabus/wabus/internal/vocab"
)

func publish(t testing.TB, js jetstream.JetStream, subject string, body []byte, msgID string) {
	t.Helper()
	opts := []jetstream.PublishOpt{}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := js.Publish(context.Background(), subject, body, opts...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func textJob(id, to, text string) []byte {
	b, _ := json.Marshal(map[string]string{"id": id, "to": to, "text": text})
	return b
}

// outcomes reads every sent and failed event of the stack, keyed by job id.
func outcomes(t testing.TB, s *testenv.Stack) (sent map[string][]event.Event, failed map[string][]event.Event) {
	t.Helper()
	sent, failed = map[string][]event.Event{}, map[string][]event.Event{}
	for _, m := range testenv.ReadStream(t, s.JS, s.Names.EventsStream(), s.Names.Events("*")) {
		var ev event.Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatalf("bad event %s", m.Data())
		}
		switch ev.Type {
		case vocab.EventSent.Type:
			sent[ev.Subject] = append(sent[ev.Subject], ev)
		case vocab.EventFailed.Type:
			failed[ev.Subject] = append(failed[ev.Subject], ev)
		}
	}
	return sent, failed
}

func TestThousandJobsOverTenTenants(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	deliveries := workertest.WatchDeliveries(t, s, nc)
	const tenants, per = 10, 100
	for i := range tenants {
		workertest.Pair(t, s, nc, fmt.Sprintf("t%d", i))
	}
	for n := range per {
		for i := range tenants {
			publish(t, s.JS, s.Names.Send(fmt.Sprintf("t%d", i)), textJob(fmt.Sprintf("job-%03d", n), "+51987654321", fmt.Sprint(n)), "")
		}
	}
	testenv.Eventually(t, 60*time.Second, "1000 deliveries", func() bool { return deliveries.Len() >= tenants*per })
	testenv.Eventually(t, 30*time.Second, "1000 sent events", func() bool {
		return testenv.SubjectMsgs(t, s.JS, s.Names.EventsStream(), s.Names.Event("*", vocab.EventSent)) >= tenants*per
	})
	sent, failed := outcomes(t, s)
	if len(failed) != 0 {
		t.Fatalf("%d jobs failed", len(failed))
	}
	ids := map[string]bool{}
	order := map[string]int{}
	for _, d := range deliveries.All() {
		key := d.Tenant + "/" + d.JobID
		if ids[key] {
			t.Fatalf("job %s delivered twice", key)
		}
		ids[key] = true
		var n int
		fmt.Sscanf(d.JobID, "job-%d", &n)
		if n != order[d.Tenant] {
			t.Fatalf("tenant %s: job %d delivered when %d was next", d.Tenant, n, order[d.Tenant])
		}
		order[d.Tenant]++
		if d.MessageID != job.MessageID(d.Tenant, d.JobID) || d.To != "51987654321@s.whatsapp.net" || d.Text != fmt.Sprint(n) {
			t.Fatalf("delivery %+v", d)
		}
	}
	if len(ids) != tenants*per {
		t.Fatalf("%d distinct deliveries, want %d", len(ids), tenants*per)
	}
	// sent events are keyed by job id per tenant: count through the sources
	total := 0
	for _, evs := range sent {
		total += len(evs)
	}
	if total != tenants*per {
		t.Fatalf("%d sent events, want %d", total, tenants*per)
	}
}

func TestSameJobTwiceIsDeliveredOnce(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	body := textJob("order-8812", "+51987654321", "Tu reserva ha sido confirmada")
	publish(t, s.JS, s.Names.Send("acme"), body, "order-8812")
	publish(t, s.JS, s.Names.Send("acme"), body, "order-8812") // dropped by the stream
	publish(t, s.JS, s.Names.Send("acme"), body, "")           // a second copy, no msg id
	publish(t, s.JS, s.Names.Send("acme"), textJob("marker", "+51987654321", "after"), "")
	testenv.Eventually(t, 30*time.Second, "marker delivered", func() bool {
		for _, d := range deliveries.All() {
			if d.JobID == "marker" {
				return true
			}
		}
		return false
	})
	n := 0
	for _, d := range deliveries.All() {
		if d.JobID == "order-8812" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("order-8812 reached the recipient %d times, want once", n)
	}
	// outcomes are recorded while the next job is sent: wait for both
	// outcomes, then for the outbox to be drained
	testenv.Eventually(t, 10*time.Second, "marker and order-8812 recorded", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE status = 'sent'`) == 2 &&
			testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_outbox`) == 0
	})
	sent, _ := outcomes(t, s)
	if len(sent["order-8812"]) != 1 {
		t.Fatalf("%d sent events for order-8812 in the stream, want 1 (same id both times)", len(sent["order-8812"]))
	}
	var data event.Sent
	json.Unmarshal(sent["order-8812"][0].Data, &data)
	if data.MessageID != job.MessageID("acme", "order-8812") || data.JobID != "order-8812" || data.To != "+51987654321" {
		t.Fatalf("sent data %+v", data)
	}
	if sent["order-8812"][0].ID != event.StableID("acme", vocab.EventSent.Token, "order-8812") {
		t.Fatal("sent event id is not the job's stable id")
	}
}

func TestBadJobsFailWithTheirCodeAndGoToTheDLQ(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "acme")
	past := time.Now().Add(-time.Hour).Format(time.RFC3339)
	cases := []struct {
		id, body, code string
	}{
		{"", `{not json`, event.CodeInvalidJob},
		{"", `{}`, event.CodeInvalidJob},
		{"no-to", `{"id":"no-to","text":"hi"}`, event.CodeInvalidJob},
		{"two-media", `{"id":"two-media","to":"+51987654321","image":{"data":"aGk="},"document":{"data":"aGk="}}`, event.CodeInvalidJob},
		{"bad-b64", `{"id":"bad-b64","to":"+51987654321","document":{"data":"!!!not base64!!!","filename":"x.pdf"}}`, event.CodeMediaInvalid},
		{"ghost", `{"id":"ghost","to":"+999123456789","text":"hi"}`, event.CodeNotOnWhatsApp},
		{"late", `{"id":"late","to":"+51987654321","text":"hi","not_after":"` + past + `"}`, event.CodeExpired},
		{"short", `{"id":"short","to":"+12","text":"hi"}`, event.CodeInvalidRecipient},
		{"no-object", `{"id":"no-object","to":"+51987654321","image":{"object":"missing.png"}}`, event.CodeMediaInvalid},
	}
	for _, c := range cases {
		publish(t, s.JS, s.Names.Send("acme"), []byte(c.body), "")
	}
	publish(t, s.JS, s.Names.Send("acme"), textJob("good", "+51987654321", "still works"), "")
	testenv.Eventually(t, 30*time.Second, "the good job after the bad ones is delivered", func() bool { return deliveries.Len() == 1 })
	testenv.Eventually(t, 10*time.Second, "dead letters", func() bool {
		return testenv.StreamMsgs(t, s.JS, s.Names.DLQStream()) == uint64(len(cases))
	})
	// jobs that fail at ingest (no session needed) are settled before the
	// ones that fail when sent: match the letters by their bytes
	letters := map[string]jetstream.Msg{}
	for _, m := range testenv.ReadStream(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("acme")) {
		letters[string(m.Data())] = m
	}
	for i, c := range cases {
		m, ok := letters[c.body]
		if !ok || m.Headers().Get("Wa-Error-Code") != c.code || m.Headers().Get("Wa-Error") == "" {
			t.Errorf("case %d: dead letter %v, want %q with code %s", i, m, c.body, c.code)
		}
	}
	_, failed := outcomes(t, s)
	for _, c := range cases {
		if c.id == "" {
			continue
		}
		evs := failed[c.id]
		if len(evs) != 1 {
			t.Errorf("job %s: %d failed events", c.id, len(evs))
			continue
		}
		var f event.Failed
		json.Unmarshal(evs[0].Data, &f)
		if f.Code != c.code || f.JobID != c.id || f.Error == "" {
			t.Errorf("job %s failed with %+v, want code %s", c.id, f, c.code)
		}
	}
	// nothing is redelivered: the send stream is empty (work queue)
	if n := testenv.StreamMsgs(t, s.JS, s.Names.SendStream()); n != 0 {
		t.Fatalf("%d jobs still in the send stream", n)
	}
	var status string
	s.Pool.QueryRow(context.Background(), `SELECT status FROM wabus_job WHERE tenant='acme' AND job_id='ghost'`).Scan(&status)
	if status != "failed" {
		t.Fatalf("ledger status of ghost = %q", status)
	}
}

// A transient send failure is retried in place: the jobs behind it wait,
// so the tenant's order holds, and the retried job is delivered once. Out
// of attempts, a job fails with send_failed into the DLQ and the next job
// goes on.
func TestTransientFailuresRetryInOrder(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	deliveries := workertest.WatchDeliveries(t, s, nc)
	workertest.Pair(t, s, nc, "flaky")
	if rep := workertest.Request(t, nc, s.Names.Sim("flaky", "fail-sends"), map[string]int{"count": 2}); rep.Error != "" {
		t.Fatalf("fail-sends: %+v", rep)
	}
	const n = 10
	for i := range n {
		publish(t, s.JS, s.Names.Send("flaky"), textJob(fmt.Sprintf("job-%02d", i), "+51987654321", fmt.Sprint(i)), "")
	}
	testenv.Eventually(t, 30*time.Second, "10 deliveries", func() bool { return deliveries.Len() >= n })
	for i, d := range deliveries.All() {
		if want := fmt.Sprintf("job-%02d", i); d.JobID != want {
			t.Fatalf("delivery %d is %s, want %s (order broken by the retry)", i, d.JobID, want)
		}
	}
	// the delivery notice comes before the outcome is committed
	testenv.Eventually(t, 10*time.Second, "job-00's outcome recorded", func() bool {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 'flaky' AND job_id = 'job-00' AND status = 'sent'`) == 1
	})
	if got := testenv.QueryInt(t, s.Pool, `SELECT attempts FROM wabus_job WHERE tenant = 'flaky' AND job_id = 'job-00'`); got != 3 {
		t.Fatalf("job-00 took %d attempts, want 3 (two injected failures)", got)
	}

	// out of attempts (5 by default)
	if rep := workertest.Request(t, nc, s.Names.Sim("flaky", "fail-sends"), map[string]int{"count": 5}); rep.Error != "" {
		t.Fatalf("fail-sends: %+v", rep)
	}
	publish(t, s.JS, s.Names.Send("flaky"), textJob("doomed", "+51987654321", "never"), "")
	publish(t, s.JS, s.Names.Send("flaky"), textJob("after", "+51987654321", "goes on"), "")
	testenv.Eventually(t, 60*time.Second, "the job after the doomed one", func() bool { return deliveries.Len() == n+1 })
	if d := deliveries.All()[n]; d.JobID != "after" {
		t.Fatalf("delivered %s, want after", d.JobID)
	}
	testenv.Eventually(t, 10*time.Second, "doomed's failed event", func() bool {
		return testenv.SubjectMsgs(t, s.JS, s.Names.EventsStream(), s.Names.Event("flaky", vocab.EventFailed)) == 1
	})
	_, failed := outcomes(t, s)
	var f event.Failed
	if evs := failed["doomed"]; len(evs) != 1 || json.Unmarshal(evs[0].Data, &f) != nil || f.Code != event.CodeSendFailed || f.Attempts != 5 {
		t.Fatalf("doomed: failed events %d, data %+v; want one send_failed after 5 attempts", len(failed["doomed"]), f)
	}
	letters := testenv.ReadStream(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("flaky"))
	if len(letters) != 1 || letters[0].Headers().Get("Wa-Error-Code") != event.CodeSendFailed {
		t.Fatalf("dead letters: %d, want the doomed job", len(letters))
	}
	if rep := workertest.Request(t, nc, s.Names.Sim("flaky", "fail-sends"), map[string]int{"count": 0}); rep.Code != "invalid_request" {
		t.Fatalf("fail-sends 0: %+v, want invalid_request", rep)
	}
}

// A tenant's own rate limit holds its jobs back (one claimed at a time,
// each when a token is there), and a change is picked up without a
// reconnect.
func TestTenantRateLimitHoldsItsJobsBack(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	nc := s.NATS.Conn(t)
	ctx := context.Background()
	if _, err := s.Pool.Exec(ctx, `INSERT INTO wabus_tenant (id, send_rate, send_burst) VALUES ('slow', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	workertest.Start(t, s, workertest.Config(t, s, "w1"))
	workertest.Pair(t, s, nc, "slow")
	for i := range 3 {
		publish(t, s.JS, s.Names.Send("slow"), textJob(fmt.Sprintf("job-%d", i), "+51987654321", "hi"), "")
	}
	sent := func() int64 {
		return testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 'slow' AND status = 'sent'`)
	}
	testenv.Eventually(t, 10*time.Second, "the three jobs queued and the first (the burst) sent", func() bool {
		return sent() == 1 && testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 'slow'`) == 3
	})
	// one a minute: the next token is a minute away, and nothing else was claimed
	if n := testenv.QueryInt(t, s.Pool, `SELECT count(*) FROM wabus_job WHERE tenant = 'slow' AND status = 'queued'`); n != 2 {
		t.Fatalf("%d jobs still queued behind the rate limit, want 2", n)
	}
	if _, err := s.Pool.Exec(ctx, `UPDATE wabus_tenant SET send_rate = NULL, send_burst = NULL WHERE id = 'slow'`); err != nil {
		t.Fatal(err)
	}
	// the worker's default here is no limit; the change applies within half a minute
	testenv.Eventually(t, 45*time.Second, "the held jobs are sent once the limit is gone", func() bool { return sent() == 3 })
}

// A job that waits past WA_SEND_MAX_AGE (its tenant is not connected)
// fails with code expired, event and dead letter, instead of vanishing; so
// does one whose not_after passes while it waits.
func TestAJobWaitingPastItsDeadlineFailsExpired(t *testing.T) {
	t.Parallel()
	s := testenv.NewStack(t)
	cfg := workertest.Config(t, s, "w1")
	cfg.SendMaxAge = 2 * time.Second
	workertest.Start(t, s, cfg)
	soon := time.Now().Add(time.Second).Format(time.RFC3339Nano)
	publish(t, s.JS, s.Names.Send("nobody"), textJob("old", "+51987654321", "hi"), "")
	publish(t, s.JS, s.Names.Send("nobody"), []byte(`{"id":"soon","to":"+51987654321","text":"hi","not_after":"`+soon+`"}`), "")
	testenv.Eventually(t, 30*time.Second, "both fail expired", func() bool {
		return testenv.SubjectMsgs(t, s.JS, s.Names.EventsStream(), s.Names.Event("nobody", vocab.EventFailed)) == 2
	})
	_, failed := outcomes(t, s)
	for _, id := range []string{"old", "soon"} {
		var f event.Failed
		if evs := failed[id]; len(evs) != 1 || json.Unmarshal(evs[0].Data, &f) != nil || f.Code != event.CodeExpired {
			t.Fatalf("%s: %d failed events, data %+v; want one expired", id, len(failed[id]), f)
		}
	}
	testenv.Eventually(t, 10*time.Second, "dead letters", func() bool {
		return len(testenv.ReadStream(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("nobody"))) == 2
	})
	for _, m := range testenv.ReadStream(t, s.JS, s.Names.DLQStream(), s.Names.DLQ("nobody")) {
		if m.Headers().Get("Wa-Error-Code") != event.CodeExpired {
			t.Fatalf("dead letter %v", m.Headers())
		}
	}
}
