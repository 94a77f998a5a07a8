package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wabus/wabus/internal/job"
	"github.com/wabus/wabus/internal/session/sim"
	"github.com/wabus/wabus/internal/testing/testenv"
)

// delivered is the simulator's notice of a message that reached WhatsApp.
type delivered = sim.Delivered

// deliveredJob waits for the delivered notice of jobID.
func deliveredJob(t *testing.T, ch chan *nats.Msg, jobID string) delivered {
	t.Helper()
	for {
		var d delivered
		m := waitMsg(t, ch, 30*time.Second, "delivery of job "+jobID)
		if err := json.Unmarshal(m.Data, &d); err != nil {
			t.Fatalf("delivered notice %q: %v", m.Data, err)
		}
		if d.JobID == jobID {
			return d
		}
	}
}

// TestLegacyAPI runs the old Node API's calls, as its callers make them,
// against a sim worker: connect, scan, status, sessions, send, send a
// document (small and 5 MiB), a recipient not on WhatsApp, delete.
func TestLegacyAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.startWorker(t, "w1")
	deliveries := e.watchSim(t, "13", "delivered")

	r := e.do(t, http.MethodGet, "/api/health", nil)
	wantStatus(t, r, http.StatusOK)
	if m := r.json(t); m["status"] != "ok" {
		t.Fatalf("health: %s", r.body)
	}
	legacyPair(t, e, "13")
	status := e.do(t, http.MethodGet, "/api/status/13", nil).json(t)
	wantKeys(t, status, "clientId", "connected", "state", "session_exists_on_disk", "auto_reconnecting",
		"tenant", "jid", "worker", "since", "last_error", "reconnects", "pending_jobs", "send_rate", "send_burst", "paused")
	if status["connected"] != true || status["session_exists_on_disk"] != true || status["auto_reconnecting"] != false || status["worker"] != "w1" {
		t.Fatalf("status: %v", status)
	}
	r = e.do(t, http.MethodGet, "/api/connect/13", nil)
	if m := r.json(t); m["connected"] != true || m["state"] != "connected" || m["qr"] != nil {
		t.Fatalf("connect on a paired client: %s", r.body)
	}
	sessions := e.do(t, http.MethodGet, "/api/sessions", nil).json(t)["sessions"].([]any)
	if len(sessions) != 1 || sessions[0].(map[string]any)["clientId"] != "13" || sessions[0].(map[string]any)["connected"] != true {
		t.Fatalf("sessions: %v", sessions)
	}

	t.Run("send", func(t *testing.T) {
		res := legacySend(t, e, "/api/send/13", map[string]string{"to": "51987654321", "message": "Hola desde wabus"})
		d := deliveredJob(t, deliveries, res["job_id"].(string))
		if d.MessageID != res["messageId"] || d.To != "51987654321@s.whatsapp.net" || d.Type != "text" || d.Text != "Hola desde wabus" {
			t.Fatalf("delivered %+v for %v", d, res)
		}
	})
	t.Run("send-document", func(t *testing.T) {
		pdf := fakePDF(20 << 10)
		d := sendDocument(t, e, deliveries, pdf, "ticket_123.pdf", "Tu ticket")
		if d.Type != "document" || d.Text != "Tu ticket" || d.Media.Mimetype != "application/pdf" || d.Media.Filename != "ticket_123.pdf" {
			t.Fatalf("delivered %+v", d)
		}
	})
	t.Run("send-document 5 MiB", func(t *testing.T) {
		sendDocument(t, e, deliveries, fakePDF(5<<20), "big.pdf", "")
	})
	t.Run("not on whatsapp", func(t *testing.T) {
		r := e.do(t, http.MethodPost, "/api/send/13", map[string]string{"to": "+99912345678", "message": "hola"})
		wantStatus(t, r, http.StatusBadRequest)
		if m := r.json(t); m["success"] != false || m["code"] != "not_on_whatsapp" || m["job_id"] == nil || m["error"] == "" {
			t.Fatalf("send to a number not on whatsapp: %s", r.body)
		}
	})

	r = e.do(t, http.MethodDelete, "/api/delete/13", nil)
	wantStatus(t, r, http.StatusOK)
	if string(r.body) != "{\"success\":true}\n" {
		t.Fatalf("delete: %s", r.body)
	}
	status = e.do(t, http.MethodGet, "/api/status/13", nil).json(t)
	if status["connected"] != false || status["session_exists_on_disk"] != false {
		t.Fatalf("status after delete: %v", status)
	}
}

// legacyPair connects a new client id (created on first use) and scans
// its QR code.
func legacyPair(t *testing.T, e *env, id string) {
	t.Helper()
	r := e.do(t, http.MethodGet, "/api/connect/"+id, nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	code, _ := m["qr_code"].(string)
	if m["clientId"] != id || m["connected"] != false || m["state"] != "pairing" || code == "" {
		t.Fatalf("connect: %s", r.body)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(m["qr"].(string), "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("qr data URL: %v", err)
	}
	if got := zbarDecode(t, png); got != code {
		t.Fatalf("zbarimg read %q, want qr_code %q", got, code)
	}
	if rep := ask(t, e.nc, e.stack.Names.Sim(id, "scan"), nil); rep.Code != "" {
		t.Fatalf("scan: %v", rep)
	}
	testenv.Eventually(t, 20*time.Second, id+" connected", func() bool {
		return e.do(t, http.MethodGet, "/api/status/"+id, nil).json(t)["connected"] == true
	})
}

// legacySend posts to an old send route and checks the synchronous answer.
func legacySend(t *testing.T, e *env, path string, body any) map[string]any {
	t.Helper()
	r := e.do(t, http.MethodPost, path, body)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	id, _ := m["messageId"].(string)
	if m["success"] != true || !strings.HasPrefix(id, job.MessageIDPrefix) || m["job_id"] == nil {
		t.Fatalf("%s: %s", path, r.body)
	}
	return m
}

// sendDocument sends pdf as a data URL and checks that the recipient got
// exactly its bytes.
func sendDocument(t *testing.T, e *env, deliveries chan *nats.Msg, pdf []byte, filename, caption string) delivered {
	t.Helper()
	res := legacySend(t, e, "/api/send-document/13", map[string]string{
		"to": "51987654321", "filename": filename, "message": caption,
		"documentData": "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(pdf),
	})
	d := deliveredJob(t, deliveries, res["job_id"].(string))
	sum := sha256.Sum256(pdf)
	if d.Media == nil || d.Media.Size != len(pdf) || d.Media.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("recipient got %+v, want %d bytes with sha256 %x", d.Media, len(pdf), sum)
	}
	return d
}

// TestLegacyQueued: without a connected session the old send routes answer
// 202 queued once SyncWait passes, and the job stays queued.
func TestLegacyQueued(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{SyncWait: 300 * time.Millisecond, CtlWait: time.Second})
	r := e.do(t, http.MethodPost, "/api/send/q1", map[string]string{"to": "51987654321", "message": "hola"})
	wantStatus(t, r, http.StatusAccepted)
	m := r.json(t)
	if m["success"] != true || m["queued"] != true || m["job_id"] == nil {
		t.Fatalf("queued: %s", r.body)
	}
	if e.pending(t, "q1") != 1 || e.count(t, `SELECT count(*) FROM wabus_tenant WHERE id = 'q1'`) != 1 {
		t.Fatal("the job is not queued for a new tenant q1")
	}
	r = e.do(t, http.MethodPost, "/api/send/q1", map[string]string{"to": "hello", "message": "hola"})
	wantStatus(t, r, http.StatusBadRequest)
	if m := r.json(t); m["success"] != false || m["code"] != "invalid_recipient" {
		t.Fatalf("invalid recipient: %s", r.body)
	}
	r = e.do(t, http.MethodPost, "/api/send-document/q1", map[string]string{"to": "51987654321", "documentData": "%%%"})
	if m := r.json(t); r.status != http.StatusBadRequest || m["code"] != "media_invalid" {
		t.Fatalf("invalid document: %s", r.body)
	}

	status := e.do(t, http.MethodGet, "/api/status/nobody", nil).json(t)
	if status["clientId"] != "nobody" || status["connected"] != false || status["session_exists_on_disk"] != false || status["since"] != nil {
		t.Fatalf("status of an unknown id: %v", status)
	}
	if e.count(t, `SELECT count(*) FROM wabus_tenant WHERE id = 'nobody'`) != 0 {
		t.Fatal("status created the tenant")
	}
	r = e.do(t, http.MethodDelete, "/api/delete/nobody", nil)
	if m := r.json(t); r.status != http.StatusOK || m["success"] != true {
		t.Fatalf("delete of an unknown id: %s", r.body)
	}
	r = e.do(t, http.MethodGet, "/api/connect/c1", nil)
	if m := r.json(t); r.status != http.StatusServiceUnavailable || m["success"] != false || m["code"] != CodeUnavailable {
		t.Fatalf("connect without a worker: %s", r.body)
	}
}
