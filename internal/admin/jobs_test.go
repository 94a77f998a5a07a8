package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/event"
	"github.com/wabus/wabus/internal/testing/testenv"
	"github.com/wabus/wabus/internal/vocab"
)

// publishJob publishes a text job for tenant straight to the send stream.
func (e *env) publishJob(t *testing.T, tenant, id string) []byte {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"id":%q,"to":"+51987654321","text":"hola %s"}`, id, id))
	if _, err := e.stack.JS.Publish(context.Background(), e.stack.Names.Send(tenant), body); err != nil {
		t.Fatal(err)
	}
	return body
}

// waitPending waits until tenant's session shows n pending jobs.
func (e *env) waitPending(t *testing.T, tenant string, n int) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("%s has %d pending jobs", tenant, n), func() bool {
		return e.do(t, http.MethodGet, "/v1/sessions/"+tenant, nil).json(t)["pending_jobs"] == float64(n)
	})
}

// failedEvents returns the data of tenant's failed events, by job id.
func (e *env) failedEvents(t *testing.T, tenant string) map[string]event.Failed {
	t.Helper()
	out := map[string]event.Failed{}
	for _, m := range testenv.ReadStream(t, e.stack.JS, e.stack.Names.EventsStream(), e.stack.Names.Event(tenant, vocab.EventFailed)) {
		var ev event.Event
		var f event.Failed
		if json.Unmarshal(m.Data(), &ev) != nil || json.Unmarshal(ev.Data, &f) != nil {
			t.Fatalf("bad failed event %s", m.Data())
		}
		out[f.JobID] = f
	}
	return out
}

// letters returns tenant's dead letters: bytes and error code by job id.
func (e *env) letters(t *testing.T, tenant string) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, m := range testenv.ReadStream(t, e.stack.JS, e.stack.Names.DLQStream(), e.stack.Names.DLQ(tenant)) {
		out[m.Headers().Get("Wa-Job-Id")] = [2]string{string(m.Data()), m.Headers().Get("Wa-Error-Code")}
	}
	return out
}

func jobIDs(t *testing.T, r response) ([]string, string) {
	t.Helper()
	var page struct {
		Jobs []jobView `json:"jobs"`
		Next *string   `json:"next"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatalf("jobs page %s: %v", r.body, err)
	}
	var ids []string
	for _, j := range page.Jobs {
		ids = append(ids, j.ID)
	}
	if page.Next != nil && *page.Next == "" {
		t.Fatalf("next is present but empty: %s", r.body)
	}
	next := ""
	if page.Next != nil {
		next = *page.Next
	}
	return ids, next
}

// TestJobsRoutePagesNewestFirst: GET /v1/sessions/{tenant}/jobs lists the
// tenant's jobs newest first, a page at a time until next is absent, and
// filters by status.
func TestJobsRoutePagesNewestFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t1", nil), http.StatusCreated)
	e.startWorker(t, "w1")
	for i := range 7 {
		e.publishJob(t, "t1", fmt.Sprintf("job-%d", i))
	}
	e.waitPending(t, "t1", 7) // not paired: they wait
	r := e.do(t, http.MethodGet, "/v1/sessions/t1/jobs?limit=3", nil)
	wantStatus(t, r, http.StatusOK)
	var first struct {
		Jobs []map[string]any `json:"jobs"`
	}
	json.Unmarshal(r.body, &first)
	wantKeys(t, first.Jobs[0], "id", "status", "to", "kind", "attempts", "code", "error", "message_id", "created_at", "updated_at")
	if j := first.Jobs[0]; j["status"] != "queued" || j["to"] != "+51987654321" || j["kind"] != "text" {
		t.Fatalf("newest job %v", j)
	}
	var all []string
	path := "/v1/sessions/t1/jobs?limit=3"
	for pages := 0; ; pages++ {
		r := e.do(t, http.MethodGet, path, nil)
		wantStatus(t, r, http.StatusOK)
		ids, next := jobIDs(t, r)
		all = append(all, ids...)
		if next == "" {
			if pages != 2 {
				t.Fatalf("%d pages of 3 for 7 jobs", pages+1)
			}
			break
		}
		path = "/v1/sessions/t1/jobs?limit=3&before=" + url.QueryEscape(next)
	}
	want := []string{"job-6", "job-5", "job-4", "job-3", "job-2", "job-1", "job-0"}
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("pages gave %v, want %v", all, want)
	}
	ids, _ := jobIDs(t, e.do(t, http.MethodGet, "/v1/sessions/t1/jobs?status=sent", nil))
	if len(ids) != 0 {
		t.Fatalf("sent jobs %v, want none", ids)
	}
	ids, next := jobIDs(t, e.do(t, http.MethodGet, "/v1/sessions/t1/jobs?status=queued", nil))
	if len(ids) != 7 || next != "" {
		t.Fatalf("queued jobs %v (next %q), want all 7 on one page", ids, next)
	}
	for _, bad := range []string{"status=done", "limit=0", "limit=501", "limit=x", "before=%21%21"} {
		wantError(t, e.do(t, http.MethodGet, "/v1/sessions/t1/jobs?"+bad, nil), http.StatusBadRequest, CodeInvalidRequest)
	}
	wantError(t, e.do(t, http.MethodGet, "/v1/sessions/nobody/jobs", nil), http.StatusNotFound, CodeNotFound)
}

// TestCancelJob: DELETE /v1/sessions/{tenant}/jobs/{id} fails a waiting
// job with code cancelled (event and dead letter, never sent); a job that
// is done is 409 not_cancellable, an unknown one 404.
func TestCancelJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	e.pair(t, "t1")
	e.do(t, http.MethodPut, "/v1/sessions/t1", map[string]any{"paused": true})
	body := e.publishJob(t, "t1", "later")
	e.publishJob(t, "t1", "kept")
	e.waitPending(t, "t1", 2)
	r := e.do(t, http.MethodDelete, "/v1/sessions/t1/jobs/later", nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["id"] != "later" || m["status"] != "failed" || m["code"] != "cancelled" {
		t.Fatalf("cancelled job %s", r.body)
	}
	wantError(t, e.do(t, http.MethodDelete, "/v1/sessions/t1/jobs/later", nil), http.StatusConflict, CodeNotCancellable)
	wantError(t, e.do(t, http.MethodDelete, "/v1/sessions/t1/jobs/nope", nil), http.StatusNotFound, CodeNotFound)
	wantError(t, e.do(t, http.MethodDelete, "/v1/sessions/nobody/jobs/later", nil), http.StatusNotFound, CodeNotFound)
	delivered := e.watchSim(t, "t1", "delivered")
	e.do(t, http.MethodPut, "/v1/sessions/t1", map[string]any{"paused": false})
	var d struct {
		JobID string `json:"job_id"`
	}
	json.Unmarshal(waitMsg(t, delivered, 20*time.Second, "kept delivered").Data, &d)
	if d.JobID != "kept" {
		t.Fatalf("delivered %s, want kept (later was cancelled)", d.JobID)
	}
	wantError(t, e.do(t, http.MethodDelete, "/v1/sessions/t1/jobs/kept", nil), http.StatusConflict, CodeNotCancellable)
	testenv.Eventually(t, 10*time.Second, "the cancelled event", func() bool { return len(e.failedEvents(t, "t1")) == 1 })
	if f := e.failedEvents(t, "t1")["later"]; f.Code != event.CodeCancelled || f.Error == "" {
		t.Fatalf("failed event %+v", f)
	}
	if l := e.letters(t, "t1")["later"]; l[0] != string(body) || l[1] != event.CodeCancelled {
		t.Fatalf("dead letter %v", l)
	}
}

// TestPauseHoldsJobsUntilResumed: a paused tenant stays connected and
// sends nothing; its jobs wait and go, in order, once it is resumed.
func TestPauseHoldsJobsUntilResumed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	e.pair(t, "t1")
	r := e.do(t, http.MethodPut, "/v1/sessions/t1", map[string]any{"paused": true})
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["paused"] != true || m["state"] != "connected" {
		t.Fatalf("paused session %s", r.body)
	}
	wantError(t, e.do(t, http.MethodPut, "/v1/sessions/t1", map[string]any{"paused": "yes"}), http.StatusBadRequest, CodeInvalidRequest)
	delivered := e.watchSim(t, "t1", "delivered")
	for i := range 3 {
		e.publishJob(t, "t1", fmt.Sprintf("job-%d", i))
	}
	e.waitPending(t, "t1", 3)
	select {
	case m := <-delivered:
		t.Fatalf("a paused tenant sent %s", m.Data)
	default:
	}
	if m := e.do(t, http.MethodGet, "/v1/sessions/t1", nil).json(t); m["state"] != "connected" || m["paused"] != true {
		t.Fatalf("session while paused: %v", m)
	}
	r = e.do(t, http.MethodPut, "/v1/sessions/t1", map[string]any{"paused": false})
	if m := r.json(t); m["paused"] != false {
		t.Fatalf("resumed session %s", r.body)
	}
	for i := range 3 {
		var d struct {
			JobID string `json:"job_id"`
		}
		json.Unmarshal(waitMsg(t, delivered, 20*time.Second, "a job after the resume").Data, &d)
		if want := fmt.Sprintf("job-%d", i); d.JobID != want {
			t.Fatalf("delivered %s, want %s", d.JobID, want)
		}
	}
}

// TestDeletingATenantCancelsItsWaitingJobs: the tenant's jobs still
// waiting fail with code cancelled (event and dead letter).
func TestDeletingATenantCancelsItsWaitingJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	wantStatus(t, e.do(t, http.MethodPut, "/v1/sessions/t1", nil), http.StatusCreated)
	e.startWorker(t, "w1")
	bodies := map[string]string{}
	for _, id := range []string{"a", "b"} {
		bodies[id] = string(e.publishJob(t, "t1", id))
	}
	e.waitPending(t, "t1", 2)
	wantStatus(t, e.do(t, http.MethodDelete, "/v1/sessions/t1", nil), http.StatusOK)
	testenv.Eventually(t, 10*time.Second, "two cancelled events", func() bool { return len(e.failedEvents(t, "t1")) == 2 })
	letters := e.letters(t, "t1")
	for id, f := range e.failedEvents(t, "t1") {
		if f.Code != event.CodeCancelled || letters[id][0] != bodies[id] || letters[id][1] != event.CodeCancelled {
			t.Errorf("job %s: event %+v, letter %v", id, f, letters[id])
		}
	}
	if n := e.count(t, `SELECT count(*) FROM wabus_job WHERE tenant = 't1' AND status IN ('queued', 'sending')`); n != 0 {
		t.Fatalf("%d jobs of the deleted tenant still waiting", n)
	}
}
