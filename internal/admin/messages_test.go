package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// TestMessages: POST /v1/sessions/{tenant}/messages validates the job and
// publishes it to the tenant's send subject with its id as Nats-Msg-Id.
func TestMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	path := "/v1/sessions/t1/messages"
	wantError(t, e.do(t, http.MethodPost, path, map[string]string{"to": "+51987654321", "text": "hi"}), http.StatusNotFound, CodeNotFound)
	e.do(t, http.MethodPut, "/v1/sessions/t1", nil)

	invalid := []struct {
		name, body, code string
	}{
		{"malformed", `{"to":`, "invalid_job"},
		{"not an object", `[1]`, "invalid_job"},
		{"no recipient", `{"text": "hi"}`, "invalid_job"},
		{"bad recipient", `{"to": "hello", "text": "hi"}`, "invalid_recipient"},
		{"no content", `{"to": "+51987654321"}`, "invalid_job"},
		{"two media", `{"to": "+51987654321", "image": {"data": "aGk="}, "video": {"data": "aGk="}}`, "invalid_job"},
		{"bad id", `{"id": "a b", "to": "+51987654321", "text": "hi"}`, "invalid_job"},
		{"bad media", `{"to": "+51987654321", "document": {"data": "%%%not base64"}}`, "media_invalid"},
	}
	for _, tc := range invalid {
		r := e.do(t, http.MethodPost, path, []byte(tc.body))
		if r.status != http.StatusBadRequest || r.json(t)["code"] != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.body, tc.code)
		}
	}

	r := e.do(t, http.MethodPost, path, map[string]string{"id": "order-8812", "to": "+51987654321", "text": "Tu reserva"})
	wantStatus(t, r, http.StatusAccepted)
	if id := r.json(t)["job_id"]; id != "order-8812" {
		t.Fatalf("job_id %v", id)
	}
	r = e.do(t, http.MethodPost, path, map[string]string{"to": "+51987654321", "text": "sin id"})
	wantStatus(t, r, http.StatusAccepted)
	generated, _ := r.json(t)["job_id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(generated) {
		t.Fatalf("generated job id %q", generated)
	}
	// The same id again is a duplicate: JetStream keeps one.
	wantStatus(t, e.do(t, http.MethodPost, path, map[string]string{"id": "order-8812", "to": "+51987654321", "text": "Tu reserva"}), http.StatusAccepted)

	jobs := e.jobs(t, "t1")
	if len(jobs) != 2 {
		t.Fatalf("%d jobs in the stream, want 2", len(jobs))
	}
	for i, want := range []string{"order-8812", generated} {
		if got := jobs[i].Header.Get("Nats-Msg-Id"); got != want {
			t.Errorf("job %d: Nats-Msg-Id %q, want %q", i, got, want)
		}
		j, err := job.Parse(jobs[i].Data)
		if err != nil || j.ID != want {
			t.Errorf("job %d does not parse as %s: %v", i, want, err)
		}
	}
	// pending_jobs counts the job table, which a worker fills (t1 is not
	// paired: its jobs wait)
	e.startWorker(t, "w1")
	testenv.Eventually(t, 20*time.Second, "pending_jobs 2", func() bool {
		return e.do(t, http.MethodGet, "/v1/sessions/t1", nil).json(t)["pending_jobs"] == float64(2)
	})
}

// TestLargeMedia: inline media too large for one NATS message goes to the
// media bucket and the job refers to it by object.
func TestLargeMedia(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.do(t, http.MethodPut, "/v1/sessions/t1", nil)
	pdf := fakePDF(3 << 20)
	small := fakePDF(10 << 10)
	body := map[string]any{"id": "big-1", "to": "+51987654321", "text": "report", "document": map[string]string{
		"data": "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf), "filename": "report.pdf",
	}}
	wantStatus(t, e.do(t, http.MethodPost, "/v1/sessions/t1/messages", body), http.StatusAccepted)
	body = map[string]any{"id": "small-1", "to": "+51987654321", "document": map[string]string{
		"data": base64.StdEncoding.EncodeToString(small), "filename": "small.pdf",
	}}
	wantStatus(t, e.do(t, http.MethodPost, "/v1/sessions/t1/messages", body), http.StatusAccepted)

	jobs := e.jobs(t, "t1")
	if len(jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(jobs))
	}
	big, err := job.Parse(jobs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	d := big.Document
	if d.Data != "" || d.Object != "t1/big-1/report.pdf" || d.Mimetype != "application/pdf" || d.Filename != "report.pdf" {
		t.Fatalf("large document %+v", *d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := e.stack.JS.ObjectStore(ctx, e.stack.Names.MediaBucket())
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.GetBytes(ctx, d.Object)
	if err != nil || !bytes.Equal(got, pdf) {
		t.Fatalf("object %s: %d bytes, %v; want the %d bytes sent", d.Object, len(got), err, len(pdf))
	}
	if j, err := job.Parse(jobs[1].Data); err != nil || j.Document.Data == "" || j.Document.Object != "" {
		t.Fatalf("small document should stay inline: %v", err)
	}
}

// TestObjectName: media object names stay within the job's limit.
func TestObjectName(t *testing.T) {
	t.Parallel()
	long := string(bytes.Repeat([]byte("n"), 250)) + ".pdf"
	for _, tc := range []struct{ filename, want string }{
		{"a.pdf", "t/j/a.pdf"},
		{"", "t/j/media"},
		{"dir/a.pdf", "t/j/dir_a.pdf"},
		{long, "t/j/media"},
	} {
		if got := objectName("t", "j", tc.filename); got != tc.want {
			t.Errorf("objectName(%q) = %q, want %q", tc.filename, got, tc.want)
		}
	}
}

// fakePDF returns n bytes that start like a PDF.
func fakePDF(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	copy(b, "%PDF-1.7\n")
	return b
}
